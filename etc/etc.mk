# Files installed under etc/: the configuration and an example CNI network.
ocidconfdir = $(sysconfdir)/ocid
dist_ocidconf_DATA = etc/crio.conf

# An example only: installing it into /etc/cni/net.d would change the host's
# networking, so it goes where an operator can copy it from.
ocidcnidir = $(datadir)/ocid/cni
dist_ocidcni_DATA = etc/cni/10-ocid-bridge.conflist

# Drop-ins are read from crio.conf.d next to crio.conf; ship it empty.
install-data-hook: install-data-hook-etc
install-data-hook-etc:
	$(MKDIR_P) "$(DESTDIR)$(ocidconfdir)/crio.conf.d"
.PHONY: install-data-hook-etc

uninstall-hook: uninstall-hook-etc
uninstall-hook-etc:
	-rmdir "$(DESTDIR)$(ocidconfdir)/crio.conf.d"
.PHONY: uninstall-hook-etc
