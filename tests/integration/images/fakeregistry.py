# SPDX-License-Identifier: Apache-2.0
"""A small registry in a thread on 127.0.0.1, for what a real one will not
do on demand: bearer-token authentication with a token endpoint of its own,
faults injected per blob or manifest (wrong bytes, a cut connection, a
stall, HTTP errors) and counts of what was fetched.

Every /v2/ request needs a bearer token. Without one the answer is 401 with
    WWW-Authenticate: Bearer realm="http://127.0.0.1:<port>/token",
                      service="ocid-fake-registry",scope="repository:<name>:pull"
GET /token?service=...&scope=... hands out a token for the scope: to
anyone for a public repository, and only with the right basic credentials
for a private one (wrong credentials: 401 from the token endpoint)."""

import base64
import collections
import http.server
import json
import re
import secrets
import socketserver
import threading
import time
import urllib.parse

from . import builder

SERVICE = "ocid-fake-registry"

# Fault kinds, set with FakeRegistry.fault(key, kind):
CORRUPT = "corrupt"     # the right length, one byte changed
TRUNCATE = "truncate"   # Content-Length of the whole, half the bytes, close
STALL = "stall"         # headers and 1 KiB, then nothing until released
ERROR500 = "500"        # HTTP 500 with a registry error body
WRONG_DIGEST_HEADER = "wrong-digest-header"  # Docker-Content-Digest lies


class Repo:
    def __init__(self, private=False):
        self.private = private
        self.tags = {}          # tag -> manifest digest
        self.manifests = {}     # digest -> (bytes, media type)
        self.blobs = {}         # digest -> bytes


class FakeRegistry:
    def __init__(self, users=None):
        self.users = dict(users or {"ocid": "s3cret"})
        self.repos = {}
        self.faults = {}            # digest or "<repo>:<tag>" -> kind
        self.blob_delay = 0.0       # seconds before each blob body
        self.tokens = {}            # token -> set of repos it may pull
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.counts = collections.Counter()
        self.started = collections.Counter()  # (kind, key) of requests begun
        self.release = threading.Event()       # ends stalls
        self.server = None
        self.thread = None

    # --- content ----------------------------------------------------------
    def add(self, repo, obj, tags=("latest",), private=False):
        """Serves an Image or Index from builder as `repo`, under `tags`."""
        r = self.repos.setdefault(repo, Repo(private))
        r.private = r.private or private
        r.blobs.update(obj.blobs())
        r.manifests.update(obj.manifests())
        for t in tags:
            r.tags[t] = obj.digest
        return obj

    def fault(self, key, kind):
        """Injects fault `kind` on the blob or manifest `key` (a digest, or
        "<repo>:<tag>" for a manifest by tag); kind None removes it."""
        with self.lock:
            if kind is None:
                self.faults.pop(key, None)
            else:
                self.faults[key] = kind

    def reset_counts(self):
        with self.lock:
            self.counts.clear()
            self.started.clear()

    def blob_gets(self):
        """{digest: count} of blob bodies sent in full."""
        with self.lock:
            return {k[1]: n for k, n in self.counts.items()
                    if k[0] == "blob"}

    def manifest_gets(self):
        with self.lock:
            return {k[1]: n for k, n in self.counts.items()
                    if k[0] == "manifest"}

    def wait_started(self, kind, key, timeout=20.0):
        """Waits until a request for blob or manifest `key` has begun
        sending its body (kind "blob" or "manifest")."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.started[(kind, key)] == 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no {kind} request for {key} within {timeout} s")
                self.cond.wait(left)

    # --- server -----------------------------------------------------------
    @property
    def host(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        reg = self

        class Handler(_Handler):
            registry = reg

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       name="fake-registry", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.release.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- auth -------------------------------------------------------------
    def issue_token(self, scopes, authorization):
        """The token endpoint's decision: (status, body)."""
        user = None
        if authorization:
            kind, _, cred = authorization.partition(" ")
            if kind.lower() != "basic":
                return 401, {"errors": [{"code": "UNAUTHORIZED",
                                         "message": "basic credentials only"}]}
            try:
                u, _, p = base64.b64decode(cred).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return 400, {"errors": [{"code": "UNAUTHORIZED",
                                         "message": "malformed credentials"}]}
            if self.users.get(u) != p:
                return 401, {"errors": [{"code": "UNAUTHORIZED",
                                         "message": "bad username or password"}]}
            user = u
        grant = set()
        for s in scopes:
            parts = s.split(":")
            if len(parts) >= 3 and parts[0] == "repository":
                name = ":".join(parts[1:-1])
                r = self.repos.get(name)
                if r is None or not r.private or user is not None:
                    grant.add(name)
        token = secrets.token_hex(16)
        with self.lock:
            self.tokens[token] = grant
            self.counts[("token", user or "")] += 1
        return 200, {"token": token, "access_token": token,
                     "expires_in": 300, "issued_at": "2023-11-14T22:13:20Z"}

    def token_allows(self, authorization, repo):
        if not authorization or not authorization.startswith("Bearer "):
            return False
        grant = self.tokens.get(authorization[len("Bearer "):].strip())
        return grant is not None and (repo is None or repo in grant)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


_PATH = re.compile(r"^/v2/(.+)/(manifests|blobs)/([^/]+)$")


class _Handler(http.server.BaseHTTPRequestHandler):
    registry = None             # set by FakeRegistry.start()
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    # --- replies ----------------------------------------------------------
    def reply(self, status, body=b"", headers=(), head=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = [("Content-Type", "application/json"), *headers]
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def error(self, status, code, message, headers=(), head=False):
        self.reply(status, {"errors": [{"code": code, "message": message}]},
                   headers, head)

    def challenge(self, repo, head):
        realm = f"http://{self.registry.host}/token"
        scope = f',scope="repository:{repo}:pull"' if repo else ""
        self.error(401, "UNAUTHORIZED", "authentication required",
                   [("WWW-Authenticate",
                     f'Bearer realm="{realm}",service="{SERVICE}"{scope}')],
                   head)

    # --- requests ---------------------------------------------------------
    def do_GET(self):
        self.handle_request(head=False)

    def do_HEAD(self):
        self.handle_request(head=True)

    def handle_request(self, head):
        reg = self.registry
        url = urllib.parse.urlsplit(self.path)
        auth = self.headers.get("Authorization")
        if url.path == "/token":
            q = urllib.parse.parse_qs(url.query)
            status, body = reg.issue_token(q.get("scope", []), auth)
            self.reply(status, body, head=head)
            return
        if url.path in ("/v2", "/v2/"):
            if not reg.token_allows(auth, None):
                self.challenge(None, head)
            else:
                self.reply(200, {}, head=head)
            return
        m = _PATH.match(url.path)
        if not m:
            self.error(404, "NOT_FOUND", "no such endpoint", head=head)
            return
        name, what, ref = m.groups()
        if not reg.token_allows(auth, name):
            self.challenge(name, head)
            return
        repo = reg.repos.get(name)
        if repo is None:
            self.error(404, "NAME_UNKNOWN", f"repository {name} not known",
                       head=head)
            return
        if what == "manifests":
            self.send_manifest(name, repo, ref, head)
        else:
            self.send_blob(name, repo, ref, head)

    def send_manifest(self, name, repo, ref, head):
        reg = self.registry
        digest = ref if ref.startswith("sha256:") else repo.tags.get(ref)
        kind = reg.faults.get(f"{name}:{ref}") or (
            reg.faults.get(digest) if digest else None)
        if kind == ERROR500:
            self.error(500, "UNKNOWN", "injected internal error", head=head)
            return
        if digest is None or digest not in repo.manifests:
            self.error(404, "MANIFEST_UNKNOWN",
                       f"manifest unknown: {name}:{ref}", head=head)
            return
        data, mt = repo.manifests[digest]
        header_digest = digest
        if kind == CORRUPT:
            data = _corrupt(data)
        elif kind == WRONG_DIGEST_HEADER:
            header_digest = builder.sha256(data + b" ")
        with reg.cond:
            if not head:
                reg.counts[("manifest", ref)] += 1
                reg.started[("manifest", ref)] += 1
            reg.cond.notify_all()
        self.reply(200, data, [("Content-Type", mt),
                               ("Docker-Content-Digest", header_digest)],
                   head)

    def send_blob(self, name, repo, digest, head):
        reg = self.registry
        data = repo.blobs.get(digest)
        if data is None:
            self.error(404, "BLOB_UNKNOWN", f"blob unknown: {digest}",
                       head=head)
            return
        kind = reg.faults.get(digest)
        if kind == ERROR500:
            self.error(500, "UNKNOWN", "injected internal error", head=head)
            return
        headers = [("Content-Type", "application/octet-stream"),
                   ("Docker-Content-Digest", digest)]
        if head:
            self.reply(200, data, headers, head=True)
            return
        with reg.cond:
            reg.started[("blob", digest)] += 1
            reg.cond.notify_all()
        if reg.blob_delay:
            time.sleep(reg.blob_delay)
        if kind == CORRUPT:
            self.reply(200, _corrupt(data), headers)
        elif kind in (TRUNCATE, STALL):
            self.send_response(200)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            part = len(data) // 2 if kind == TRUNCATE else min(1024, len(data) // 2)
            self.wfile.write(data[:part])
            self.wfile.flush()
            if kind == STALL:
                reg.release.wait(120)
            self.close_connection = True
            return
        else:
            self.reply(200, data, headers)
        with reg.lock:
            reg.counts[("blob", digest)] += 1


def _corrupt(data):
    """`data` with its middle byte changed: same size, other digest."""
    b = bytearray(data)
    i = len(b) // 2
    b[i] ^= 0xFF
    return bytes(b)
