# SPDX-License-Identifier: Apache-2.0
"""Helpers for ocid's integration suite: where things are, a real daemon on
temporary directories, and a bare HTTP/2 client for what grpcio cannot send."""

import os
import re
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import grpc

SRCDIR = Path(__file__).resolve().parents[2]
OCID_BIN = os.environ.get("OCID_BIN", str(SRCDIR / "_build" / "ocid"))
MODULE_DIR = os.environ.get(
    "OCID_MODULE_DIR", str(Path(OCID_BIN).parent / "modules" / ".libs"))
PROTO_DIR = os.environ.get("OCID_PROTO_DIR", str(SRCDIR / "core" / "server"))

START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0
MIB = 1024 * 1024


def package_version():
    """The version AC_INIT gives in configure.ac."""
    text = (SRCDIR / "configure.ac").read_text()
    m = re.search(r"AC_INIT\(\[ocid\],\s*\[([^\]]+)\]", text)
    assert m, "no AC_INIT([ocid], [VERSION]) in configure.ac"
    return m.group(1)


def daemon_env(test_service=True):
    env = dict(os.environ)
    env["OCID_MODULE_DIR"] = MODULE_DIR
    env.pop("OCID_TEST_SERVICE", None)
    if test_service:
        env["OCID_TEST_SERVICE"] = "1"
    return env


def run_ocid(*args, timeout=30, env=None):
    """Runs the ocid binary to completion (for its commands: config, check,
    version...) and returns the CompletedProcess."""
    return subprocess.run([OCID_BIN, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout,
                          env=env if env is not None else daemon_env(False))


def config_text(root, runroot, listen, cni_dir, log_level="debug"):
    return (f'root = "{root}";\n'
            f'runroot = "{runroot}";\n'
            f'listen = "{listen}";\n'
            f'log_level = "{log_level}";\n'
            'modules = {\n'
            f'  net-cni = {{ conf_dir = "{cni_dir}"; }};\n'
            '};\n')


def channel_options(large=False):
    # A local subchannel pool gives every channel its own connection
    # (grpc otherwise shares one between channels with the same target).
    opts = [("grpc.enable_http_proxy", 0), ("grpc.use_local_subchannel_pool", 1)]
    if large:
        opts += [("grpc.max_send_message_length", -1),
                 ("grpc.max_receive_message_length", -1)]
    return opts


def can_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1.0)
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Daemon:
    """One ocid process on its own root, runroot, socket, CNI config dir and
    crio.conf, all under `base`. Its output goes to base/daemon.log."""

    instances = []

    def __init__(self, base, test_service=True, listen=None):
        self.dir = Path(base)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.root = self.dir / "root"
        self.runroot = self.dir / "run"
        self.sock = Path(listen) if listen else self.runroot / "ocid.sock"
        self.cni_dir = self.dir / "cni"
        self.cni_dir.mkdir(exist_ok=True)
        self.conf = self.dir / "crio.conf"
        self.log_path = self.dir / "daemon.log"
        self.test_service = test_service
        self.proc = None
        self.returncode = None
        self.channels = []
        self.write_config()
        Daemon.instances.append(self)

    def write_config(self, log_level="debug"):
        self.conf.write_text(config_text(self.root, self.runroot, self.sock,
                                         self.cni_dir, log_level))

    # --- process ---------------------------------------------------------
    def spawn(self, *extra_args):
        """Starts the process without waiting for it to serve."""
        assert not self.alive(), "daemon already running"
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [OCID_BIN, "--config", str(self.conf), *extra_args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=daemon_env(self.test_service))
        finally:
            log.close()
        return self

    def start(self):
        self.spawn()
        self.wait_serving()
        return self

    def wait_serving(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise AssertionError(
                    f"ocid exited with code {rc} before serving on "
                    f"{self.sock}; its log:\n{self.log()}")
            if self.sock.exists() and can_connect(self.sock):
                return
            time.sleep(0.05)
        raise AssertionError(f"ocid did not accept connections on {self.sock} "
                             f"within {timeout} s; its log:\n{self.log()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for the process to exit; returns its exit code, or None if
        it still runs after `timeout` seconds."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=STOP_TIMEOUT, close_channels=True):
        """SIGTERM, then waits; returns the exit code. A daemon that does not
        stop in time is killed and reported."""
        if close_channels:
            self.close_channels()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(
                    f"ocid did not exit within {timeout} s of SIGTERM; "
                    f"its log:\n{self.log()}")
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    # --- log -------------------------------------------------------------
    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=300):
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Waits until the log (from byte offset `start`) matches `pattern`;
        returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log()[start:])
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no log line matching {pattern!r} within {timeout} s; "
                    f"log:\n{self.log_tail()}")
            time.sleep(0.05)

    # --- clients ---------------------------------------------------------
    def target(self):
        return f"unix://{self.sock}"

    def channel(self, large=False):
        ch = grpc.insecure_channel(self.target(),
                                   options=channel_options(large))
        self.channels.append(ch)
        return ch

    def close_channels(self):
        for ch in self.channels:
            ch.close()
        self.channels = []


# --- a bare HTTP/2 client ------------------------------------------------
# Enough of RFC 9113 and RFC 7541 to send a request grpcio would not send
# (or would send differently) and to watch the frames that come back.

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_RST_STREAM, H2_SETTINGS = 0x0, 0x1, 0x3, 0x4
H2_PING, H2_GOAWAY, H2_WINDOW_UPDATE = 0x6, 0x7, 0x8
H2_END_STREAM, H2_ACK, H2_END_HEADERS = 0x1, 0x1, 0x4


def h2_frame(ftype, flags, stream, payload=b""):
    return (struct.pack(">I", len(payload))[1:] +
            struct.pack(">BBI", ftype, flags, stream & 0x7FFFFFFF) + payload)


def _hpack_string(s):
    b = s.encode()
    assert len(b) < 127
    return bytes([len(b)]) + b


def hpack_literal(headers):
    """A header block of "literal header field without indexing, new name"
    representations: no Huffman, no dynamic table."""
    return b"".join(b"\x00" + _hpack_string(k) + _hpack_string(v)
                    for k, v in headers)


def grpc_message(payload):
    return b"\x00" + struct.pack(">I", len(payload)) + payload


class RawH2:
    """A client connection on the daemon's socket that speaks HTTP/2 frames
    by hand."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def start(self):
        """Client preface and an empty SETTINGS frame."""
        self.send(H2_PREFACE + h2_frame(H2_SETTINGS, 0, 0))

    def request(self, stream, path, body, extra_headers=()):
        headers = [(":method", "POST"), (":scheme", "http"), (":path", path),
                   (":authority", "localhost"),
                   ("content-type", "application/grpc"), ("te", "trailers"),
                   *extra_headers]
        self.send(h2_frame(H2_HEADERS, H2_END_HEADERS, stream,
                           hpack_literal(headers)) +
                  h2_frame(H2_DATA, H2_END_STREAM, stream, grpc_message(body)))

    def read_frame(self, deadline):
        """The next frame as (type, flags, stream, payload); None at EOF.
        Raises socket.timeout when `deadline` (monotonic) passes first.
        Acknowledges the server's SETTINGS and PINGs."""
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + length:
                    ftype, flags, stream = struct.unpack(">BBI", self.buf[3:9])
                    payload = self.buf[9:9 + length]
                    self.buf = self.buf[9 + length:]
                    stream &= 0x7FFFFFFF
                    try:
                        if ftype == H2_SETTINGS and not flags & H2_ACK:
                            self.send(h2_frame(H2_SETTINGS, H2_ACK, 0))
                        elif ftype == H2_PING and not flags & H2_ACK:
                            self.send(h2_frame(H2_PING, H2_ACK, 0, payload))
                    except OSError:
                        pass    # closed by the server; the caller sees EOF
                    return ftype, flags, stream, payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no frame before the deadline")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk

    def read_until_eof(self, timeout):
        """Reads until the server closes the connection; returns the bytes
        read. Raises socket.timeout if it stays open for `timeout` s."""
        deadline = time.monotonic() + timeout
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("the connection stayed open")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk
