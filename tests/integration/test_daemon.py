# SPDX-License-Identifier: Apache-2.0
"""The daemon's life: start-up, its socket, signals, and refusing to share a
live socket. Each test starts (and usually ends) its own daemon."""

import os
import re
import signal
import socket
import stat
import threading
import time

import grpc
import pytest

from ocid_it import can_connect, package_version


def version(d, pb):
    stub = pb.cri_grpc.RuntimeServiceStub(d.channel())
    return stub.Version(pb.cri.VersionRequest(), timeout=5)


def test_startup(make_daemon, pb):
    d = make_daemon()
    d.wait_log(rf"ocid {re.escape(package_version())} listening on "
               rf"{re.escape(str(d.sock))}")
    st = os.stat(d.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    parent = os.stat(d.sock.parent)
    assert stat.S_IMODE(parent.st_mode) == 0o700, oct(parent.st_mode)
    assert d.root.is_dir() and d.runroot.is_dir()
    assert version(d, pb).runtime_name == "ocid"


def stop_and_check(d, sig=signal.SIGTERM, within=10.0):
    t0 = time.monotonic()
    d.signal(sig)
    rc = d.wait(within)
    assert rc is not None, f"ocid still runs {within} s after {sig.name}"
    assert rc == 0, f"exit code {rc} after {sig.name}; log:\n{d.log_tail()}"
    assert not d.sock.exists(), "the socket was not removed"
    return time.monotonic() - t0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_with_idle_connection(make_daemon, pb, sig):
    """An open, idle client connection does not hold the shutdown up."""
    d = make_daemon()
    assert version(d, pb).runtime_name == "ocid"
    assert stop_and_check(d, sig, within=5) < 5


def test_sigterm_lets_inflight_call_finish(make_daemon, pb):
    d = make_daemon()
    stub = pb.test_grpc.TestStub(d.channel())
    sleeping = stub.Sleep.future(pb.test.SleepRequest(milliseconds=1500), timeout=15)
    time.sleep(0.3)
    assert not sleeping.done()
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    r = sleeping.result()
    assert r.slept_milliseconds >= 1400, r.slept_milliseconds
    assert time.monotonic() - t0 >= 1.0, "the call ended early"
    rc = d.wait(10)
    assert rc == 0, f"exit code {rc}; log:\n{d.log_tail()}"
    assert not d.sock.exists(), "the socket was not removed"


def test_sigterm_refuses_new_connections(make_daemon, pb):
    """Once shutting down, the daemon no longer listens, while an in-flight
    call still completes."""
    d = make_daemon()
    stub = pb.test_grpc.TestStub(d.channel())
    sleeping = stub.Sleep.future(pb.test.SleepRequest(milliseconds=2000), timeout=15)
    time.sleep(0.3)
    d.signal(signal.SIGTERM)
    deadline = time.monotonic() + 1.5
    while can_connect(d.sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not can_connect(d.sock), "still accepting connections after SIGTERM"
    assert sleeping.result().slept_milliseconds >= 1900
    assert d.wait(10) == 0


def test_abandoned_call_does_not_delay_shutdown(make_daemon, pb):
    d = make_daemon()
    stub = pb.test_grpc.TestStub(d.channel())
    with pytest.raises(grpc.RpcError) as e:
        stub.Sleep(pb.test.SleepRequest(milliseconds=60000), timeout=0.5)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert stop_and_check(d, within=10) < 10


def test_sighup_reloads_log_level(make_daemon, pb):
    d = make_daemon()
    start = len(d.log())
    d.write_config(log_level="info")
    d.signal(signal.SIGHUP)
    d.wait_log(r"reloaded configuration: log_level debug -> info", start=start)
    assert d.alive()
    assert version(d, pb).runtime_name == "ocid"

    # back to debug
    start = len(d.log())
    d.write_config(log_level="debug")
    d.signal(signal.SIGHUP)
    d.wait_log(r"reloaded configuration: log_level info -> debug", start=start)
    assert version(d, pb).runtime_name == "ocid"


def test_sighup_with_broken_config_keeps_serving(make_daemon, pb):
    d = make_daemon()
    good = d.conf.read_text()
    d.conf.write_text(good + "log_level = ;\n")
    d.signal(signal.SIGHUP)
    time.sleep(1.0)
    assert d.alive(), f"a bad reload killed the daemon; log:\n{d.log_tail()}"
    assert version(d, pb).runtime_name == "ocid"
    assert str(d.conf) in d.log(), "the failed reload does not name the file"
    d.conf.write_text(good)


def test_second_daemon_is_refused(make_daemon, pb):
    first = make_daemon()
    second = make_daemon(listen=first.sock, start=False)
    second.spawn()
    rc = second.wait(20)
    assert rc == 1, f"exit code {rc}; log:\n{second.log_tail()}"
    assert f"another ocid is serving {first.sock}" in second.log(), second.log_tail()
    # the first one still owns and serves its socket
    assert first.sock.exists()
    assert version(first, pb).runtime_name == "ocid"


def test_stale_socket_is_replaced(make_daemon, pb):
    d = make_daemon(start=False)
    d.runroot.mkdir(mode=0o700)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(d.sock))
    s.close()
    assert d.sock.exists() and not can_connect(d.sock)
    d.start()
    assert version(d, pb).runtime_name == "ocid"


def test_test_service_needs_the_environment(make_daemon, pb):
    d = make_daemon(test_service=False)
    stub = pb.test_grpc.TestStub(d.channel())
    with pytest.raises(grpc.RpcError) as e:
        stub.Sleep(pb.test.SleepRequest(milliseconds=1), timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_restart_on_the_same_directories(make_daemon, pb):
    d = make_daemon()
    assert version(d, pb).runtime_name == "ocid"
    assert d.stop() == 0
    d.start()
    assert version(d, pb).runtime_name == "ocid"


def test_many_clients_then_shutdown(make_daemon, pb):
    """Connections opened and dropped in parallel leave the daemon able to
    stop cleanly."""
    d = make_daemon()
    errors = []

    def worker():
        try:
            for _ in range(5):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(str(d.sock))
                s.close()
            assert version(d, pb).runtime_name == "ocid"
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:5]
    stop_and_check(d, within=10)
