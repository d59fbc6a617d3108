# Files installed under etc/: the configuration and an example CNI network.
ocidconfdir = $(sysconfdir)/ocid
dist_ocidconf_DATA = etc/crio.conf

# The default seccomp profile (RuntimeDefault) that sec-seccomp applies
# (modules.sec-seccomp.default_profile); dist even without the module, so
# that a tarball builds any module set.
EXTRA_DIST += etc/seccomp.json
if BUILD_MODULE_sec_seccomp
ocidconf_DATA = etc/seccomp.json
endif

# An example only: installing it into /etc/cni/net.d would change the host's
# networking, so it goes where an operator can copy it from.
ocidcnidir = $(datadir)/ocid/cni
dist_ocidcni_DATA = etc/cni/10-ocid-bridge.conflist

# The AppArmor profile template that sec-apparmor renders and loads
# (modules.sec-apparmor.template).
if BUILD_MODULE_sec_apparmor
ocidapparmordir = $(sysconfdir)/ocid/apparmor
dist_ocidapparmor_DATA = etc/apparmor/ocid-default
else
EXTRA_DIST += etc/apparmor/ocid-default
endif

# Drop-ins are read from crio.conf.d next to crio.conf; ship it empty.
install-data-hook: install-data-hook-etc
install-data-hook-etc:
	$(MKDIR_P) "$(DESTDIR)$(ocidconfdir)/crio.conf.d"
.PHONY: install-data-hook-etc

uninstall-hook: uninstall-hook-etc
uninstall-hook-etc:
	-rmdir "$(DESTDIR)$(ocidconfdir)/crio.conf.d"
.PHONY: uninstall-hook-etc

# The systemd unit, for hosts that run systemd. conmon processes live in the
# daemon's cgroup, so the unit stops only the daemon (KillMode=process).
systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = etc/ocid.service
EXTRA_DIST += etc/ocid.service.in
CLEANFILES += etc/ocid.service
etc/ocid.service: $(srcdir)/etc/ocid.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && sed -e 's|@bindir[@]|$(bindir)|g' \
		-e 's|@sysconfdir[@]|$(sysconfdir)|g' -e 's|@docdir[@]|$(docdir)|g' \
		$(srcdir)/etc/ocid.service.in > $@
