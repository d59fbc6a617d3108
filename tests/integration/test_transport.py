# SPDX-License-Identifier: Apache-2.0
"""The gRPC transport: unknown paths, malformed input, message limits,
deadlines, server streaming and concurrency, against one daemon."""

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from ocid_it import (MIB, RawH2, H2_HEADERS, H2_END_STREAM, H2_RST_STREAM,
                     H2_GOAWAY, h2_frame, H2_SETTINGS)


def identity(b):
    return b


def raw_call(channel, path):
    return channel.unary_unary(path, request_serializer=identity,
                               response_deserializer=identity)


def assert_serving(daemon, pb):
    """The daemon still runs and answers Version on a new connection."""
    assert daemon.alive(), f"ocid died; its log:\n{daemon.log_tail()}"
    with daemon.channel() as ch:
        stub = pb.cri_grpc.RuntimeServiceStub(ch)
        r = stub.Version(pb.cri.VersionRequest(), timeout=5)
    assert r.runtime_name == "ocid"


# --- unknown paths and malformed input -------------------------------------

@pytest.mark.parametrize("path", [
    "/runtime.v1.RuntimeService/NoSuchMethod",
    "/runtime.v1.ImageService/NoSuchMethod",
    "/no.such.v1.Service/Version",
    "/ocid.test.v1.Test/NoSuchMethod",
])
def test_unknown_path_is_unimplemented(daemon, path):
    with pytest.raises(grpc.RpcError) as e:
        raw_call(daemon.channel(), path)(b"", timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED, e.value.details()


@pytest.mark.parametrize("body", [
    b"\x0a\x10abc",             # field 1, length 16, 3 bytes present
    b"\xff\xff\xff\xff",        # a tag varint that never ends
    b"\x0b",                    # start group: not in proto3 messages
], ids=["truncated-string", "endless-varint", "group"])
def test_malformed_protobuf_is_invalid_argument(daemon, pb, body):
    ch = daemon.channel()
    with pytest.raises(grpc.RpcError) as e:
        raw_call(ch, "/runtime.v1.RuntimeService/Version")(body, timeout=5)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    # the same channel (and connection) still works
    r = pb.cri_grpc.RuntimeServiceStub(ch).Version(pb.cri.VersionRequest(), timeout=5)
    assert r.runtime_name == "ocid"


def test_garbage_drops_the_connection_only(daemon, pb):
    with RawH2(daemon.sock) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: ocid\r\n\r\n" + bytes(range(256)) * 4)
        try:
            c.read_until_eof(timeout=5)
        except socket.timeout:
            pytest.fail("the daemon kept a connection open after garbage")
    assert_serving(daemon, pb)


@pytest.mark.parametrize("frame", [
    # SETTINGS whose length is not a multiple of 6: FRAME_SIZE_ERROR
    h2_frame(H2_SETTINGS, 0, 0, b"\x00\x01\x00"),
    # HEADERS on stream 0: PROTOCOL_ERROR
    h2_frame(H2_HEADERS, 0x4, 0, b"\x82"),
    # a frame header announcing 16 MiB, more than SETTINGS_MAX_FRAME_SIZE
    b"\xff\xff\xff\x00\x00\x00\x00\x00\x01" + b"\x00" * 1024,
], ids=["settings-size", "headers-stream0", "oversized-frame"])
def test_broken_http2_frame_drops_the_connection_only(daemon, pb, frame):
    with RawH2(daemon.sock) as c:
        c.start()
        c.send(frame)
        try:
            c.read_until_eof(timeout=5)
        except socket.timeout:
            pytest.fail("the daemon kept a connection open after a broken frame")
    assert_serving(daemon, pb)


def test_half_a_frame_then_close(daemon, pb):
    with RawH2(daemon.sock) as c:
        c.start()
        c.send(h2_frame(H2_HEADERS, 0x4, 1, b"\x00" * 64)[:20])
    assert_serving(daemon, pb)


# --- message size -------------------------------------------------------------

def test_message_over_16mib_is_resource_exhausted(daemon, pb):
    stub = pb.cri_grpc.RuntimeServiceStub(daemon.channel(large=True))
    with pytest.raises(grpc.RpcError) as e:
        stub.Version(pb.cri.VersionRequest(version="x" * (17 * MIB)), timeout=30)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.value.details()
    assert_serving(daemon, pb)


def test_message_under_16mib_is_served(daemon, pb):
    stub = pb.cri_grpc.RuntimeServiceStub(daemon.channel(large=True))
    r = stub.Version(pb.cri.VersionRequest(version="x" * (15 * MIB)), timeout=30)
    assert r.runtime_name == "ocid"


# --- deadlines --------------------------------------------------------------

def test_deadline_exceeded(tester, pb):
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        tester.Sleep(pb.test.SleepRequest(milliseconds=5000), timeout=0.5)
    elapsed = time.monotonic() - t0
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 0.4 <= elapsed < 2.0, elapsed


def test_sleep_within_deadline(tester, pb):
    t0 = time.monotonic()
    r = tester.Sleep(pb.test.SleepRequest(milliseconds=300), timeout=5)
    elapsed = time.monotonic() - t0
    assert 280 <= r.slept_milliseconds < 2000, r.slept_milliseconds
    assert 0.28 <= elapsed < 2.5, elapsed


def test_server_honours_grpc_timeout(daemon, pb):
    """A client that sends grpc-timeout and then just waits (no RST_STREAM,
    unlike grpcio) gets the end of the stream from the server once the
    timeout has passed, long before the 10 s sleep would end."""
    body = pb.test.SleepRequest(milliseconds=10000).SerializeToString()
    with RawH2(daemon.sock) as c:
        c.start()
        t0 = time.monotonic()
        c.request(1, "/ocid.test.v1.Test/Sleep", body,
                  extra_headers=[("grpc-timeout", "400m")])
        deadline = t0 + 5
        while True:
            f = c.read_frame(deadline)
            assert f is not None, "the server closed the connection"
            ftype, flags, stream, _ = f
            if stream != 1:
                continue
            assert ftype != H2_RST_STREAM, "the server reset the stream"
            if ftype == H2_HEADERS and flags & H2_END_STREAM:
                break
        elapsed = time.monotonic() - t0
    assert 0.35 <= elapsed < 3.0, elapsed


def test_version_answers_during_a_long_sleep(daemon, tester, runtime, pb):
    sleeping = tester.Sleep.future(pb.test.SleepRequest(milliseconds=3000), timeout=10)
    time.sleep(0.2)
    t0 = time.monotonic()
    for _ in range(5):
        r = runtime.Version(pb.cri.VersionRequest(), timeout=2)
        assert r.runtime_name == "ocid"
    assert time.monotonic() - t0 < 1.5
    assert not sleeping.done(), "Sleep(3000) ended early"
    assert sleeping.result().slept_milliseconds >= 2900


def test_sleeps_run_concurrently(daemon, pb):
    stub = pb.test_grpc.TestStub(daemon.channel())
    t0 = time.monotonic()
    futures = [stub.Sleep.future(pb.test.SleepRequest(milliseconds=1000), timeout=10)
               for _ in range(2)]
    for f in futures:
        assert f.result().slept_milliseconds >= 950
    assert time.monotonic() - t0 < 1.9, "two 1 s sleeps took 2 s: serialised"


# --- server streaming -------------------------------------------------------

def test_stream_count(tester, pb):
    got = list(tester.Count(pb.test.CountRequest(count=100, interval_milliseconds=0,
                                                 payload_bytes=1000), timeout=10))
    assert [m.index for m in got] == list(range(100))
    assert all(len(m.payload) == 1000 for m in got)


def test_stream_empty(tester, pb):
    got = list(tester.Count(pb.test.CountRequest(count=0), timeout=5))
    assert got == []


def test_stream_large_payloads(daemon, pb):
    stub = pb.test_grpc.TestStub(daemon.channel(large=True))
    n = 0
    for m in stub.Count(pb.test.CountRequest(count=50, payload_bytes=MIB), timeout=60):
        assert m.index == n
        assert len(m.payload) == MIB
        n += 1
    assert n == 50


def test_stream_is_incremental(tester, pb):
    t0 = time.monotonic()
    times = []
    for m in tester.Count(pb.test.CountRequest(count=5, interval_milliseconds=200,
                                               payload_bytes=8), timeout=10):
        times.append(time.monotonic() - t0)
    assert len(times) == 5
    assert times[-1] >= 0.75, times
    assert times[0] < times[-1] - 0.5, f"messages arrived all at once: {times}"


def test_stream_deadline(tester, pb):
    got = []
    with pytest.raises(grpc.RpcError) as e:
        for m in tester.Count(pb.test.CountRequest(count=100, interval_milliseconds=100),
                              timeout=0.55):
            got.append(m.index)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 2 <= len(got) <= 7, got
    assert got == list(range(len(got)))


def test_stream_cancelled_by_client(daemon, tester, pb):
    it = tester.Count(pb.test.CountRequest(count=1000, interval_milliseconds=20), timeout=30)
    assert next(it).index == 0
    assert next(it).index == 1
    it.cancel()
    assert_serving(daemon, pb)


# --- concurrency ------------------------------------------------------------

def test_many_connections(daemon, pb):
    errors = []
    lock = threading.Lock()

    def worker():
        try:
            with daemon.channel() as ch:
                stub = pb.cri_grpc.RuntimeServiceStub(ch)
                for _ in range(20):
                    r = stub.Version(pb.cri.VersionRequest(), timeout=30)
                    assert r.runtime_name == "ocid"
        except Exception as e:  # noqa: BLE001 - reported below
            with lock:
                errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "calls still running after 60 s"
    assert not errors, errors[:5]


def test_many_streams_on_one_connection(runtime, tester, pb):
    futures = [runtime.Version.future(pb.cri.VersionRequest(), timeout=30)
               for _ in range(200)]
    futures += [tester.Sleep.future(pb.test.SleepRequest(milliseconds=50), timeout=30)
                for _ in range(20)]
    results = [f.result() for f in futures]
    assert all(r.runtime_name == "ocid" for r in results[:200])
    assert all(r.slept_milliseconds >= 45 for r in results[200:])


def test_concurrent_streams(daemon, pb):
    stub = pb.test_grpc.TestStub(daemon.channel())

    def consume(_):
        return [m.index for m in stub.Count(
            pb.test.CountRequest(count=50, interval_milliseconds=1,
                                 payload_bytes=100), timeout=30)]

    with ThreadPoolExecutor(10) as pool:
        for got in pool.map(consume, range(10)):
            assert got == list(range(50))
