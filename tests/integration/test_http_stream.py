"""http mode: bodies stream through with bounded memory. A 100 MB chunked
upload and a 100 MB download, each with a side that starts reading late, pass
byte for byte while the lb's resident memory stays small (VmHWM)."""

import hashlib
import os
import socket
import struct
import threading
import time

import pytest

from conftest import (STRATA, HttpClient, SockReader, proc_status_kb, read_http_request,
                      split_addr)

TOTAL = 100 * 1024 * 1024
CHUNK = 64 * 1024
RSS_LIMIT_KB = 64 * 1024

_BASE = os.urandom(CHUNK)


def _is_asan():
    with open(STRATA, "rb") as f:
        return b"AddressSanitizer" in f.read()


ASAN = _is_asan()


def blocks(total=TOTAL):
    """The payload, CHUNK bytes at a time, each block numbered."""
    for i in range(total // CHUNK):
        yield struct.pack(">Q", i) + _BASE[8:]


def payload_digest(total=TOTAL):
    h = hashlib.sha256()
    for b in blocks(total):
        h.update(b)
    return h.hexdigest()


class RssWatch:
    """Samples the lb's VmRSS while a transfer runs."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, proc_status_kb(self.pid, "VmRSS"))
            except (OSError, KeyError):
                return
            time.sleep(0.05)

    def done(self):
        self.stop.set()
        self.t.join(5)
        return max(self.peak, proc_status_kb(self.pid, "VmHWM"))


def assert_small(lb, peak_kb):
    if ASAN:
        return  # ASan's quarantine and shadow memory make RSS meaningless
    assert peak_kb < RSS_LIMIT_KB, "the lb's resident memory peaked at %d kB" % peak_kb


def test_100mb_chunked_upload_streams(py_server, http_lb):
    result = {}

    def handler(conn):
        rd = SockReader(conn)
        head = rd.read_until(b"\r\n\r\n").decode("latin-1")
        result["head"] = head
        time.sleep(0.5)  # read late: strata must hold off, not buffer 100 MB
        rd.log = bytearray()  # do not keep 100 MB
        h, n = hashlib.sha256(), 0
        chunked = "transfer-encoding: chunked" in head.lower()
        if chunked:
            while True:
                line = rd.read_until(b"\r\n")
                size = int(line[:-2].split(b";")[0], 16)
                if size == 0:
                    assert rd.read_until(b"\r\n") == b"\r\n"
                    break
                left = size
                while left:
                    b = rd.read_exact(min(left, CHUNK))
                    h.update(b)
                    left -= len(b)
                    n += len(b)
                assert rd.read_exact(2) == b"\r\n"
                rd.log = bytearray()
        else:
            left = int([l for l in head.split("\r\n") if l.lower().startswith("content-length")][0]
                       .split(":")[1])
            while left:
                b = rd.read_some(min(left, CHUNK))
                if not b:
                    break
                h.update(b)
                left -= len(b)
                n += len(b)
                rd.log = bytearray()
        body = ("%d %s" % (n, h.hexdigest())).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    srv = py_server(handler)
    srv.name = "sink"
    lb = http_lb([srv], extra=["--response-timeout", "60s"])
    watch = RssWatch(lb.proc.pid)
    with HttpClient(lb.addr, timeout=120) as c:
        c.send(b"PUT /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        for b in blocks():
            c.send(b"%x\r\n%s\r\n" % (len(b), b))
        c.send(b"0\r\n\r\n")
        r = c.response()
    peak = watch.done()
    print("lb VmHWM/peak RSS: %d kB" % peak)
    assert r.status == 200, r
    assert r.body.decode() == "%d %s" % (TOTAL, payload_digest())
    assert result["head"].startswith("PUT /upload HTTP/1.1\r\n")
    assert_small(lb, peak)


def test_100mb_download_streams_to_a_late_reader(py_server, http_lb):
    def handler(conn):
        read_http_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     b"Content-Length: %d\r\n\r\n" % TOTAL)
        for b in blocks():
            conn.sendall(b)
        read_http_request(conn)  # until strata closes or sends another request

    srv = py_server(handler)
    srv.name = "source"
    lb = http_lb([srv])
    watch = RssWatch(lb.proc.pid)
    h, n = hashlib.sha256(), 0
    with HttpClient(lb.addr, timeout=120) as c:
        c.send(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
        time.sleep(0.5)  # nothing read yet: strata must hold off
        head = c.rd.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"\r\ncontent-length: %d\r\n" % TOTAL in head.lower(), head
        c.rd.log = bytearray()
        while n < TOTAL:
            b = c.rd.read_some(min(TOTAL - n, 1 << 20))
            assert b, "EOF after %d bytes" % n
            h.update(b)
            n += len(b)
            c.rd.log = bytearray()
    peak = watch.done()
    print("lb VmHWM/peak RSS: %d kB" % peak)
    assert n == TOTAL and h.hexdigest() == payload_digest()
    assert_small(lb, peak)


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_20mb_download_other_framings(py_server, http_lb, framing):
    total = 20 * 1024 * 1024

    def handler(conn):
        read_http_request(conn)
        if framing == "chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for b in blocks(total):
                conn.sendall(b"%x\r\n%s\r\n" % (len(b), b))
            conn.sendall(b"0\r\n\r\n")
            read_http_request(conn)
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
            for b in blocks(total):
                conn.sendall(b)

    srv = py_server(handler)
    srv.name = framing
    lb = http_lb([srv])
    with HttpClient(lb.addr, timeout=60) as c:
        r = c.request("GET", "/")
    assert r.status == 200
    assert len(r.body) == total
    assert hashlib.sha256(r.body).hexdigest() == payload_digest(total)


def test_close_delimited_download_to_a_slow_reader(py_server, http_lb):
    """A body delimited by the server's close, read slowly: when strata reads
    the server's EOF while the client cannot take more, the rest must still
    be delivered and the connection closed (and the worker keep serving)."""
    total = 4 * 1024 * 1024

    def handler(conn):
        head = read_http_request(conn)
        if "/ping" in head:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\npong\n")
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        for b in blocks(total):
            conn.sendall(b)

    srv = py_server(handler)
    srv.name = "close"
    lb = http_lb([srv])
    want = payload_digest(total)
    for attempt in range(6):
        s = socket.create_connection(split_addr(lb.addr), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        time.sleep(0.2)
        rd = SockReader(s)
        head = rd.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
        h, n = hashlib.sha256(), 0
        try:
            while True:
                b = rd.read_some(16384)
                if not b:
                    break
                h.update(b)
                n += len(b)
                rd.log = bytearray()
                time.sleep(0.001)
        except socket.timeout:
            pytest.fail("attempt %d: stalled with %d of %d bytes received" % (attempt, n, total))
        finally:
            s.close()
        assert n == total and h.hexdigest() == want
    with HttpClient(lb.addr, timeout=5) as c:
        assert c.request(target="/ping").body == b"pong\n"
