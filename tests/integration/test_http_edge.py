"""http mode edge cases: exchanges that end badly (client gone mid-body,
server gone or silent mid-body, a server sending more than it announced) must
never leave a server connection to be reused nor let stray bytes reach a
client; interim responses; HTTP/1.0 clients and chunked responses; long
methods and targets."""

import json
import socket
import time

import pytest

from conftest import (HttpClient, access_lines, build_request, exchange_raw, ok_response,
                      wait_until)


def one(http_backend, http_lb, respond=None, extra=(), name="rec", **kw):
    be = http_backend(name, respond=respond)
    lb = http_lb([be], extra=extra, **kw)
    return be, lb


def test_client_gone_mid_body_server_connection_not_reused(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    c = HttpClient(lb.addr)
    c.send(b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
    wait_until(lambda: be.accepted == 1, what="the server connection")
    c.close()
    # the half-sent body is abandoned: strata closes that server connection
    wait_until(lambda: be.finished == 1, what="the server connection to be closed")
    assert be.requests == []
    with HttpClient(lb.addr) as c2:
        r = c2.request("POST", "/next", body=b"abc")
        assert (r.status, r.body) == (200, b"rec\n")
    assert [(q.target, q.body) for q in be.requests] == [("/next", b"abc")]
    assert be.accepted == 2


def test_server_sending_more_than_announced(http_backend, http_lb):
    """Bytes after a complete response are never shown to a client (no
    response splitting) and that server connection is not reused."""
    def respond(req, conn, be):
        return (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Injected: 1\r\n\r\nINJECTED")
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        r1 = c.request(target="/1")
        assert (r1.status, r1.body) == (200, b"ok")
        time.sleep(0.1)  # the extra bytes have reached strata
        r2 = c.request(target="/2")
        assert (r2.status, r2.body) == (200, b"ok"), r2
        assert not r2.has("X-Injected")
    assert [q.target for q in be.requests] == ["/1", "/2"]
    assert be.accepted == 2, "a server connection with stray bytes was reused"


def test_server_closing_mid_body_closes_the_client(http_backend, http_lb):
    def respond(req, conn, be):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"y" * 10)
        return None
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        c.send(build_request())
        head = c.rd.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        # 10 bytes, then the connection ends: the client can tell it is truncated
        assert c.rest() == b"y" * 10


def test_server_silent_mid_body_times_out_and_closes_the_client(http_backend, http_lb):
    def respond(req, conn, be):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"y" * 10)
        conn.settimeout(20)
        conn.recv(1)  # until strata gives up
        return None
    be, lb = one(http_backend, http_lb, respond, extra=["--response-timeout", "300ms"])
    with HttpClient(lb.addr) as c:
        c.send(build_request())
        head = c.rd.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert c.rest() == b"y" * 10  # no 504 appended after a response began
    wait_until(lambda: be.finished == 1, what="the server connection to be closed")


def test_server_chunked_body_truncated_closes_the_client(http_backend, http_lb):
    def respond(req, conn, be):
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        return None
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        c.send(build_request())
        head = c.rd.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        rest = c.rest()
        assert not rest.endswith(b"0\r\n\r\n"), "a truncated body was completed: %r" % rest


def test_interim_103_then_final(http_backend, http_lb):
    def respond(req, conn, be):
        return (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
                ok_response(b"final"))
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        for _ in range(2):
            c.send(build_request())
            interim, r = c.final_response()
            assert (r.status, r.body) == (200, b"final")
            assert all(i.status == 103 for i in interim)


def test_expect_100_continue_any_case(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n")
        interim = c.response()
        assert interim.status == 100, interim
        c.send(b"hi")
        assert c.response().status == 200
    assert be.requests[0].body == b"hi"


def test_http10_client_never_gets_chunked(http_backend, http_lb):
    def respond(req, conn, be):
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    be, lb = one(http_backend, http_lb, respond)
    rs, rest, closed = exchange_raw(lb.addr, b"GET / HTTP/1.0\r\n\r\n")
    assert len(rs) == 1 and rest == b""
    assert rs[0].framing != "chunked", rs[0]
    assert rs[0].body == b"hello world"


@pytest.mark.parametrize("method,status", [("HEAD", b"200 OK"), ("GET", b"304 Not Modified")])
def test_http10_client_never_sees_transfer_encoding_on_a_bodyless_response(
        http_backend, http_lb, method, status):
    # RFC 9112 6.1: no Transfer-Encoding to an HTTP/1.0 client, even where
    # the response has no body to decode (HEAD, 304).
    def respond(req, conn, be):
        return b"HTTP/1.1 " + status + b"\r\nTransfer-Encoding: chunked\r\nETag: \"x\"\r\n\r\n"
    be, lb = one(http_backend, http_lb, respond)
    req = method.encode() + b" / HTTP/1.0\r\nIf-None-Match: \"x\"\r\n\r\n"
    rs, rest, closed = exchange_raw(lb.addr, req)
    assert len(rs) == 1 and rest == b"", (rs, rest)
    assert rs[0].status == int(status[:3]) and rs[0].body == b""
    assert not rs[0].has("transfer-encoding") and rs[0].get("etag") == '"x"'


def test_client_half_close_after_request_still_gets_the_response(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        c.send(build_request())
        c.sock.shutdown(socket.SHUT_WR)
        r = c.response()
        assert (r.status, r.body) == (200, b"rec\n")


def test_long_method_and_target(http_backend, http_lb):
    be, lb = one(http_backend, http_lb, extra=["--log-format", "json"])
    target = "/" + "t" * 8000 + "?q=" + "v" * 100
    with HttpClient(lb.addr) as c:
        r = c.request("VERYLONGMETHODNAME-EXTENSION", target)
        assert r.status == 200
    assert be.requests[0].request_line == "VERYLONGMETHODNAME-EXTENSION %s HTTP/1.1" % target
    rec = json.loads(wait_until(lambda: access_lines(lb.proc), what="a log line")[0])
    assert rec["status"] == 200
    assert rec["method"] == "VERYLONGMETHODNAME-EXTENSION"


def test_many_small_requests_with_bodies_on_one_connection(http_backend, http_lb):
    be, lb = one(http_backend, http_lb,
                 respond=lambda req, conn, be: ok_response(req.body[::-1]))
    with HttpClient(lb.addr) as c:
        for i in range(100):
            body = b"%d-" % i * (i % 7)
            if i % 3:
                r = c.request("POST", "/", body=body)
            else:
                c.send(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n")
                r = c.response()
            assert r.body == body[::-1]
    assert be.accepted == 1


def test_nothing_after_a_closing_request_is_forwarded(http_backend, http_lb):
    """Requests pipelined after one that ends the connection (Connection:
    close, or HTTP/1.0 without keep-alive) are never forwarded."""
    be, lb = one(http_backend, http_lb)
    for first in (build_request("GET", "/1", fields=[("Connection", "close")]),
                  b"GET /1 HTTP/1.0\r\n\r\n"):
        n = len(be.requests)
        rs, rest, closed = exchange_raw(lb.addr, first + build_request("GET", "/2") +
                                        build_request("POST", "/3", body=b"x"))
        assert [r.status for r in rs] == [200], rs
        assert rs[0].get("Connection").lower() == "close"
        assert closed
        with HttpClient(lb.addr) as c:  # a sentinel after anything stray
            assert c.request(target="/sentinel").status == 200
        assert [q.target for q in be.requests[n:]] == ["/1", "/sentinel"]


def test_good_then_bad_in_one_send(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    rs, rest, closed = exchange_raw(lb.addr, build_request("GET", "/good") +
                                    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert [r.status for r in rs] == [200, 400]
    assert closed
    assert [q.target for q in be.requests] == ["/good"]


def test_head_answered_with_chunked_or_length_headers(http_backend, http_lb):
    def respond(req, conn, be):
        if req.target == "/te":
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\nContent-Length: 123\r\n\r\n"
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        for t in ("/te", "/cl", "/te"):
            r = c.request("HEAD", t)
            assert r.status == 200 and r.body == b""
        r = c.request("HEAD", "/cl")
        assert r.get("Content-Length") == "123"


def test_304_with_content_length_has_no_body(http_backend, http_lb):
    be, lb = one(http_backend, http_lb, lambda req, conn, be:
                 b"HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\nETag: \"x\"\r\n\r\n")
    with HttpClient(lb.addr) as c:
        for _ in range(3):
            r = c.request(fields=[("If-None-Match", '"x"')])
            assert r.status == 304 and r.body == b""
            assert r.get("Content-Length") == "500"


def test_tunnel_carries_bulk_both_ways_at_once(http_backend, http_lb):
    import hashlib
    import os
    import threading

    def respond(req, conn, be):
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     b"Upgrade: x-echo\r\n\r\n")
        while True:
            b = conn.recv(65536)
            if not b:
                conn.shutdown(socket.SHUT_WR)
                return None
            conn.sendall(b)
    be, lb = one(http_backend, http_lb, respond)
    data = os.urandom(8 * 1024 * 1024)
    with HttpClient(lb.addr, timeout=30) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: x-echo\r\n\r\n")
        assert c.response().status == 101
        got = []
        t = threading.Thread(target=lambda: got.append(c.rest()))
        t.start()
        c.sock.sendall(data)
        c.sock.shutdown(socket.SHUT_WR)
        t.join(60)
        assert not t.is_alive(), "the tunnel stalled"
    assert len(got[0]) == len(data)
    assert hashlib.sha256(got[0]).digest() == hashlib.sha256(data).digest()
