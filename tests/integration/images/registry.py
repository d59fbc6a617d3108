# SPDX-License-Identifier: Apache-2.0
"""Debian's docker-registry (the distribution project's registry) on
127.0.0.1 and a free port, with its storage in a temporary directory, no
authentication, plain HTTP, and an access log the tests can read."""

import http.client
import re
import socket
import subprocess
import time
from pathlib import Path

REGISTRY_BIN = "/usr/bin/docker-registry"
START_TIMEOUT = 20.0

# "GET /v2/x/blobs/sha256:... HTTP/1.1" 200 in the registry's access log
# (Apache combined format).
_ACCESS = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def http_status(host, path, timeout=2.0):
    conn = http.client.HTTPConnection(host, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


class DockerRegistry:
    """One docker-registry process on `workdir` (data, config, log)."""

    def __init__(self, workdir):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data = self.dir / "data"
        self.conf = self.dir / "config.yml"
        self.log_path = self.dir / "registry.log"
        self.proc = None
        self.port = None

    @property
    def host(self):
        """"127.0.0.1:<port>", the registry part of its image names."""
        return f"127.0.0.1:{self.port}"

    def write_config(self):
        self.conf.write_text(
            "version: 0.1\n"
            "log:\n"
            "  level: info\n"
            "  accesslog:\n"
            "    disabled: false\n"
            "storage:\n"
            "  filesystem:\n"
            f"    rootdirectory: {self.data}\n"
            "  delete:\n"
            "    enabled: true\n"
            "  maintenance:\n"
            "    uploadpurging:\n"
            "      enabled: false\n"
            "http:\n"
            f"  addr: 127.0.0.1:{self.port}\n")

    def start(self):
        for _ in range(5):
            self.port = free_port()
            self.write_config()
            log = open(self.log_path, "ab")
            try:
                self.proc = subprocess.Popen(
                    [REGISTRY_BIN, "serve", str(self.conf)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            finally:
                log.close()
            if self._wait_serving():
                return self
            # Lost the port to someone else between free_port() and bind.
            self.stop()
        raise AssertionError(f"docker-registry did not start; its log:\n"
                             f"{self.log()[-4000:]}")

    def _wait_serving(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if http_status(self.host, "/v2/") == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_offset(self):
        """Where the log ends now: pass it to requests() to see only what
        came after."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def requests(self, since=0):
        """(method, path, status) of every request in the access log from
        byte offset `since`."""
        with open(self.log_path, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        return [(m.group(1), m.group(2), int(m.group(3)))
                for m in _ACCESS.finditer(text)]

    def blob_gets(self, since=0):
        """{digest: count} of successful blob GETs since `since`."""
        out = {}
        for method, path, status in self.requests(since):
            m = re.match(r"/v2/.+/blobs/(sha256:[0-9a-f]{64})$", path)
            if method == "GET" and m and status in (200, 206, 307):
                out[m.group(1)] = out.get(m.group(1), 0) + 1
        return out
