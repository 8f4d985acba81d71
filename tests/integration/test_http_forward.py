"""http mode: what reaches the server and the client. Forwarded and hop-by-hop
headers, X-Request-Id, Via, keep-alive with clients and pooled server
connections, pipelining, HTTP/1.0, 100-continue, Upgrade tunnels, strata's own
502/503/504, and retries (connect failures for every method, early closes for
idempotent methods only)."""

import re
import socket
import time

import pytest

from conftest import (DeadServer, HttpClient, assert_error_response, build_request,
                      exchange_raw, ok_response, read_http_request, wait_state, wait_until)

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def one(http_backend, http_lb, respond=None, extra=(), name="rec", **kw):
    be = http_backend(name, respond=respond)
    lb = http_lb([be], extra=extra, **kw)
    return be, lb


# ------------------------------------------------------ request headers ---

def test_forwarded_request_headers(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr, source_ip="127.0.0.5") as c:
        r = c.request("GET", "/p/q?x=1&y=2", fields=[
            ("X-Forwarded-For", "10.0.0.1, 10.0.0.2"),
            ("X-Forwarded-Proto", "https"),
            ("Via", "1.0 fred"),
            ("Connection", "keep-alive, X-Secret, x-other"),
            ("X-Secret", "s3cr3t"),
            ("X-Other", "o"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"),
            ("Trailer", "X-T"),
            ("Upgrade", "h2c"),
            ("X-Keep", "kept"),
            ("User-Agent", "raw/1"),
        ])
    assert r.status == 200 and r.body == b"rec\n"
    req = be.requests[0]
    assert req.request_line == "GET /p/q?x=1&y=2 HTTP/1.1"
    assert req.get("Host") == "strata-test"
    assert req.lines("X-Forwarded-For") == ["10.0.0.1, 10.0.0.2, 127.0.0.5"]
    assert req.lines("X-Forwarded-Proto") == ["http"]
    assert req.values("Via") == ["1.0 fred", "1.1 strata"]
    assert HEX32.match(req.get("X-Request-Id") or ""), req.get("X-Request-Id")
    for hop in ("Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade",
                "X-Secret", "X-Other"):
        assert not req.has(hop), "%s forwarded: %r" % (hop, req.raw)
    assert req.get("X-Keep") == "kept"
    assert req.get("User-Agent") == "raw/1"


def test_x_forwarded_for_added_when_absent_and_fields_merged(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr, source_ip="127.0.0.7") as c:
        assert c.request().status == 200
        assert c.request(fields=[("X-Forwarded-For", "1.1.1.1"),
                                 ("X-Forwarded-For", "2.2.2.2, 3.3.3.3")]).status == 200
    assert be.requests[0].lines("X-Forwarded-For") == ["127.0.0.7"]
    assert be.requests[0].lines("X-Forwarded-Proto") == ["http"]
    assert be.requests[0].lines("Via") == ["1.1 strata"]
    assert be.requests[1].lines("X-Forwarded-For") == ["1.1.1.1, 2.2.2.2, 3.3.3.3, 127.0.0.7"]


def test_x_forwarded_proto_from_the_client_is_replaced(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        assert c.request(fields=[("X-Forwarded-Proto", "https"),
                                 ("x-forwarded-proto", "wss")]).status == 200
    assert be.requests[0].lines("X-Forwarded-Proto") == ["http"]


def test_request_id_added_unique_or_kept(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        for _ in range(5):
            assert c.request().status == 200
        assert c.request(fields=[("X-Request-Id", "client-chosen-42")]).status == 200
    ids = [q.get("X-Request-Id") for q in be.requests]
    assert all(HEX32.match(i) for i in ids[:5]), ids
    assert len(set(ids[:5])) == 5, ids
    assert be.requests[5].lines("X-Request-Id") == ["client-chosen-42"]


def test_request_body_and_framing_forwarded(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        assert c.request("POST", "/len", body=b"0123456789").status == 200
        c.send(b"PUT /chunked HTTP/1.1\r\nHost: strata-test\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n")
        assert c.response().status == 200
        assert c.request("DELETE", "/empty").status == 200
    q0, q1, q2 = be.requests
    assert (q0.method, q0.body, q0.get("Content-Length")) == ("POST", b"0123456789", "10")
    assert (q1.method, q1.body) == ("PUT", b"abcdefg")
    assert q1.chunked or q1.get("Content-Length") == "7"
    assert (q2.method, q2.body) == ("DELETE", b"")


# ----------------------------------------------------- response headers ---

def test_response_hop_by_hop_removed_via_appended(http_backend, http_lb):
    def respond(req, conn, be):
        return (b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\nConnection: keep-alive, X-Hop\r\n"
                b"X-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
                b"Via: 1.1 backend\r\nX-Keep: 2\r\nSet-Cookie: a=b\r\n\r\nnew")
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        r = c.request()
        assert (r.status, r.reason, r.body) == (201, "Created", b"new")
        for hop in ("Keep-Alive", "X-Hop", "Proxy-Connection"):
            assert not r.has(hop), r
        assert [v.lower() for v in r.values("Connection")] in ([], ["keep-alive"]), r
        assert r.values("Via") == ["1.1 backend", "1.1 strata"], r
        assert r.get("X-Keep") == "2" and r.get("Set-Cookie") == "a=b"
        # the connection stays usable
        assert c.request().status == 201


def test_response_via_added(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        r = c.request()
    assert r.lines("Via") == ["1.1 strata"]
    assert r.get("X-Backend") == "rec"
    assert r.get("Connection") is None


def test_client_connection_close_is_honoured(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        r = c.request(fields=[("Connection", "close")])
        assert r.status == 200 and r.body == b"rec\n"
        assert r.get("Connection").lower() == "close"
        assert c.closed()


def test_server_connection_close_reaches_client_only_as_hop_by_hop(http_backend, http_lb):
    """The server closes its side after the response: the client connection
    stays open (strata will pick another server connection)."""
    def respond(req, conn, be):
        # says close but keeps the connection open: strata must not reuse it
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        for _ in range(3):
            r = c.request()
            assert (r.status, r.body) == (200, b"ok")
            assert r.get("Connection") is None, r
    assert be.accepted == 3  # never reused after Connection: close


# ------------------------------------------------------------ keep-alive ---

def test_server_connections_are_reused(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        for i in range(10):
            assert c.request(target="/k%d" % i).body == b"rec\n"
    for i in range(10):
        with HttpClient(lb.addr) as c:
            assert c.request(target="/n%d" % i).body == b"rec\n"
    assert len(be.requests) == 20
    assert be.accepted < 20
    assert be.accepted <= 2, "one thread, sequential requests: %d server connections" % be.accepted


def test_server_keepalive_zero_means_a_connection_per_request(http_backend, http_lb):
    be, lb = one(http_backend, http_lb, extra=["--server-keepalive", "0"])
    with HttpClient(lb.addr) as c:
        for _ in range(5):
            assert c.request().status == 200
    wait_until(lambda: be.accepted == 5, what="5 server connections")
    assert len(be.requests) == 5


def test_server_keepalive_caps_the_idle_connections_kept(http_backend, http_lb):
    """--server-keepalive 2: after 5 requests in flight at once, 2 of their 5
    server connections stay pooled; the next 5 at once reuse those 2 and
    open 3."""
    import threading
    import time

    gate = [None]

    def slow(req, conn, be):
        gate[0].wait()    # all five in flight together before any answer
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    be, lb = one(http_backend, http_lb, slow, extra=["--server-keepalive", "2"])

    def burst():
        gate[0] = threading.Barrier(5, timeout=10)
        statuses = []

        def one_request():
            with HttpClient(lb.addr) as c:
                statuses.append(c.request().status)
        threads = [threading.Thread(target=one_request) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert statuses == [200] * 5

    burst()
    assert be.accepted == 5
    wait_until(lambda: be.finished == 3, what="3 of 5 server connections closed, 2 kept")
    burst()
    assert be.accepted == 8


def test_http10_server_response_without_keepalive_is_not_reused(http_backend, http_lb):
    def respond(req, conn, be):
        # an HTTP/1.0 answer without keep-alive; the socket stays open
        return b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold"
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        for _ in range(3):
            r = c.request()
            assert (r.status, r.body) == (200, b"old")
    assert be.accepted == 3


def test_server_keepalive_timeout_closes_idle_server_connections(http_backend, http_lb):
    be, lb = one(http_backend, http_lb, extra=["--server-keepalive-timeout", "200ms"])
    with HttpClient(lb.addr) as c:
        assert c.request().status == 200
    # the pooled connection is closed by strata: the backend sees EOF
    wait_until(lambda: be.finished == 1, what="the idle server connection to be closed")
    with HttpClient(lb.addr) as c:
        assert c.request().status == 200
    assert be.accepted == 2


def test_admin_counts_requests_per_server(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        for _ in range(7):
            assert c.request().status == 200
    assert "requests" in lb.server("rec"), lb.server("rec")
    wait_until(lambda: lb.server("rec").get("requests") == 7,
               what="requests == 7 in /stats (%r)" % lb.server("rec"))
    assert lb.server("rec")["total"] == 1  # connections


def test_admin_stats_listener_mode_is_http(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    assert lb.stats()["listeners"][0]["mode"] == "http"


def test_idle_server_connection_closed_by_the_server_is_not_used(http_backend, http_lb):
    """A server closes an idle keep-alive connection (its own keep-alive
    timeout): the next request must not fail on that dead connection."""
    def respond(req, conn, be):
        conn.sendall(be.default_response(req))
        time.sleep(0.05)
        return None  # close, without having said so
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        for i in range(3):
            r = c.request(target="/i%d" % i)
            assert (r.status, r.body) == (200, b"rec\n")
            wait_until(lambda: be.finished == i + 1, what="the server to close")
            time.sleep(0.1)  # the FIN has reached strata
    assert [q.target for q in be.requests] == ["/i0", "/i1", "/i2"]


def test_pipelined_requests_answered_in_order(http_backend, http_lb):
    def respond(req, conn, be):
        body = ("%s %s %d\n" % (req.method, req.target, len(req.body))).encode()
        return ok_response(body, head_only=req.method == "HEAD")
    be, lb = one(http_backend, http_lb, respond)
    reqs = b"".join([
        build_request("GET", "/1"),
        build_request("POST", "/2", body=b"x" * 3000),
        build_request("HEAD", "/3"),
        build_request("GET", "/4"),
        b"PUT /5 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        build_request("GET", "/6", fields=[("Connection", "close")]),
    ])
    with HttpClient(lb.addr) as c:
        c.send(reqs)
        got = []
        for m in ("GET", "POST", "HEAD", "GET", "PUT", "GET"):
            got.append(c.response(m))
        assert c.closed()
    assert got[-1].get("Connection").lower() == "close"
    assert [r.body for r in got] == [b"GET /1 0\n", b"POST /2 3000\n", b"", b"GET /4 0\n",
                                     b"PUT /5 2\n", b"GET /6 0\n"]
    assert got[2].get("Content-Length") == str(len(b"HEAD /3 0\n"))
    assert [q.target for q in be.requests] == ["/1", "/2", "/3", "/4", "/5", "/6"]


def test_many_pipelined_requests(http_backend, http_lb):
    be, lb = one(http_backend, http_lb,
                 respond=lambda req, conn, be: ok_response(req.target.encode()))
    with HttpClient(lb.addr) as c:
        c.send(b"".join(build_request("GET", "/r%d" % i) for i in range(200)))
        bodies = [c.response().body for _ in range(200)]
    assert bodies == [b"/r%d" % i for i in range(200)]


# -------------------------------------------------------------- HTTP/1.0 ---

def test_http10_client(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    rs, rest, closed = exchange_raw(lb.addr, b"GET /old HTTP/1.0\r\nUser-Agent: ancient\r\n\r\n")
    assert closed and rest == b""
    assert [(r.status, r.body) for r in rs] == [(200, b"rec\n")]
    assert rs[0].get("Connection").lower() == "close", rs[0]
    assert be.requests[0].request_line == "GET /old HTTP/1.0"
    assert be.requests[0].get("User-Agent") == "ancient"


def test_http10_client_with_keepalive(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        for i in range(3):
            c.send(b"GET /k%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
            r = c.response()
            assert (r.status, r.body) == (200, b"rec\n")
            assert r.framing == "length", r  # a 1.0 client cannot read chunked
        c.send(b"GET /last HTTP/1.0\r\n\r\n")
        assert c.response().status == 200
        assert c.closed()
    assert [q.target for q in be.requests] == ["/k0", "/k1", "/k2", "/last"]


def test_close_delimited_response_reaches_a_11_client(http_backend, http_lb):
    body = bytes(range(256)) * 400

    def respond(req, conn, be):
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Kind: until-close\r\n\r\n" + body)
        return None
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        r = c.request()
        assert r.status == 200 and r.get("X-Kind") == "until-close"
        assert r.body == body
        if r.framing == "length" or r.framing == "chunked":
            c.close()  # re-framed: fine
        else:  # strata closes the client connection: it says so
            assert r.get("Connection").lower() == "close", r
            assert c.closed()


def test_chunked_response_with_trailers_is_relayed(http_backend, http_lb):
    def respond(req, conn, be):
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n1;ext\r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 10\r\n\r\n")
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        r = c.request()
        assert r.status == 200 and r.body == b"hello world"
        assert c.request().body == b"hello world"  # framing ended exactly


def test_head_response_has_no_body(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        r = c.request("HEAD", "/")
        assert r.status == 200 and r.get("Content-Length") == "4" and r.body == b""
        r = c.request("GET", "/")
        assert r.body == b"rec\n"


@pytest.mark.parametrize("status", [204, 304])
def test_bodyless_statuses(http_backend, http_lb, status):
    be, lb = one(http_backend, http_lb, lambda req, conn, be:
                 b"HTTP/1.1 %d X\r\nX-S: %d\r\n\r\n" % (status, status))
    with HttpClient(lb.addr) as c:
        for _ in range(2):
            r = c.request()
            assert r.status == status and r.body == b""


# ---------------------------------------------------- 100-continue, 101 ---

def test_expect_100_continue_is_relayed(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        c.send(b"POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")
        interim = c.response()
        assert interim.status == 100, interim
        c.send(b"hello world")
        r = c.response()
        assert r.status == 200 and r.body == b"rec\n"
    req = be.requests[0]
    assert req.get("Expect").lower() == "100-continue"
    assert req.body == b"hello world"


def test_expect_100_continue_final_answer_without_body(py_server, http_lb):
    """A server may refuse at once: the client gets the final status, without
    strata waiting for the body it never sent."""
    heads = []

    def handler(conn):
        heads.append(read_http_request(conn))
        conn.sendall(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 2\r\n"
                     b"Connection: close\r\n\r\nno")
    srv = py_server(handler)
    srv.name = "refuser"
    lb = http_lb([srv])
    with HttpClient(lb.addr) as c:
        c.send(b"POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
               b"Content-Length: 5000000\r\n\r\n")
        r = c.response()
        assert (r.status, r.body) == (413, b"no")
    assert len(heads) == 1 and "expect: 100-continue" in heads[0].lower()


def test_upgrade_becomes_a_tunnel(http_backend, http_lb):
    def respond(req, conn, be):
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     b"Upgrade: websocket\r\n\r\nserver-first|")
        while True:
            b = conn.recv(65536)
            if not b:
                return None
            conn.sendall(b)
    be, lb = one(http_backend, http_lb, respond)
    with HttpClient(lb.addr) as c:
        c.send(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        r = c.response()
        assert r.status == 101, r
        assert r.get("Upgrade") == "websocket"
        assert "upgrade" in [v.lower() for v in r.values("Connection")]
        assert c.rd.read_exact(len(b"server-first|")) == b"server-first|"
        # bytes that would be nonsense as HTTP go through untouched, both ways
        for payload in (b"\x81\x05hello", b"GET / HTTP/1.1\r\n\r\n", b"\x00" * 70000,
                        bytes(range(256)) * 10):
            c.send(payload)
            assert c.rd.read_exact(len(payload)) == payload
        c.sock.shutdown(socket.SHUT_WR)
        assert c.rest() == b""
    req = be.requests[0]
    assert req.get("Upgrade") == "websocket"
    assert "upgrade" in [v.lower() for v in req.values("Connection")]
    assert req.get("Sec-WebSocket-Key") == "dGhlIHNhbXBsZSBub25jZQ=="


def test_idle_tunnel_is_closed_after_idle_timeout(http_backend, http_lb):
    def respond(req, conn, be):
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     b"Upgrade: websocket\r\n\r\n")
        while conn.recv(65536):
            pass
        return None
    be, lb = one(http_backend, http_lb, respond, extra=["--idle-timeout", "300ms"])
    with HttpClient(lb.addr) as c:
        t0 = time.monotonic()  # before the lb can start its idle timer
        c.send(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        assert c.response().status == 101
        assert c.rest() == b""          # strata closes the silent tunnel
        assert time.monotonic() - t0 >= 0.29
    wait_until(lambda: be.finished == 1, what="the server side of the tunnel closed too")


def test_connect_timeout_retries_on_another_server(http_backend, start_lb):
    """A server whose accept queue is full drops SYNs: the connect times out
    after --connect-timeout and the request, even a POST (nothing was sent),
    is served by another server."""
    from conftest import free_addr
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    fillers = []
    try:
        for _ in range(4):  # fill the accept queue (never accepted)
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(full.getsockname())
            fillers.append(f)
        time.sleep(0.1)
        ok = http_backend("ok")
        listen, admin = free_addr(), free_addr()
        lb = start_lb(["--listen", listen, "--admin", admin, "--threads", "1",
                       "--health-check", "none", "--connect-timeout", "300ms",
                       "--server", "127.0.0.1:%d,name=full" % full.getsockname()[1],
                       "--server", "%s,name=ok" % ok.addr], listen=listen, admin=admin)
        for method in ("GET", "POST", "GET", "POST"):
            req = build_request(method, "/", fields=[("Connection", "close")],
                                body=b"x" if method == "POST" else None)
            rs, _, _ = exchange_raw(listen, req)
            assert rs[0].status == 200, rs[0]
        assert [q.method for q in ok.requests] == ["GET", "POST", "GET", "POST"]
        assert lb.server("full")["connect_errors"] == 2
        assert lb.server("full")["total"] == 0
    finally:
        for f in fillers:
            f.close()
        full.close()


def test_upgrade_refused_by_server_keeps_http(http_backend, http_lb):
    be, lb = one(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        r = c.request(fields=[("Connection", "Upgrade"), ("Upgrade", "websocket")])
        assert r.status == 200 and r.body == b"rec\n"
        r = c.request()
        assert r.status == 200 and r.body == b"rec\n"


# ------------------------------------------------------- strata's errors ---

@pytest.mark.parametrize("reply", [
    b"garbage\r\n\r\n",
    b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nBad Field\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Le",
    b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n",
    b"HTTP/9.9 200 OK\r\n\r\n",
], ids=["garbage", "bad-status", "two-lengths", "cl-and-te", "field-without-colon",
        "closed-in-head", "obs-fold", "version"])
def test_garbled_response_gets_502(http_backend, http_lb, reply):
    def respond(req, conn, be):
        conn.sendall(reply)
        return None
    be, lb = one(http_backend, http_lb, respond)
    rs, rest, closed = exchange_raw(lb.addr, build_request())
    assert len(rs) == 1, rs
    assert_error_response(rs[0], 502)
    assert closed
    assert len(be.requests) == 1, "a response byte was received: no retry"


def test_response_timeout_gets_504(http_backend, http_lb):
    def respond(req, conn, be):
        conn.settimeout(20)
        conn.recv(1)  # until strata gives up
        return None
    be, lb = one(http_backend, http_lb, respond, extra=["--response-timeout", "300ms"])
    rs, rest, closed = exchange_raw(lb.addr, build_request("GET", "/slow"))
    assert len(rs) == 1
    assert_error_response(rs[0], 504)
    assert closed


def test_response_timeout_is_inactivity_not_total(http_backend, http_lb):
    """A server sending its body slowly but steadily is not cut off."""
    def respond(req, conn, be):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        for i in range(10):
            time.sleep(0.3)
            conn.sendall(b"%d" % i)
        return b""
    # 3 s in all, never 2 s without a byte
    be, lb = one(http_backend, http_lb, respond, extra=["--response-timeout", "2s"])
    with HttpClient(lb.addr) as c:
        r = c.request()
        assert r.status == 200 and r.body == b"0123456789"


def test_all_servers_down_gets_503(http_lb):
    lb = http_lb([DeadServer("d1"), DeadServer("d2")])
    for _ in range(2):
        rs, rest, closed = exchange_raw(lb.addr, build_request())
        assert len(rs) == 1
        assert_error_response(rs[0], 503)
        assert closed


def test_servers_marked_down_get_503_without_connecting(http_lb, start_echo):
    e = start_echo("e")
    lb = http_lb([e], check="tcp", interval="100ms", fall=1, rise=1)
    with HttpClient(lb.addr) as c:
        assert c.request().body == b"e\n"
    e.kill()
    wait_state(lb.admin, "e", "down")
    rs, rest, closed = exchange_raw(lb.addr, build_request())
    assert len(rs) == 1
    assert_error_response(rs[0], 503)


# --------------------------------------------------------------- retries ---

def test_connect_failure_is_retried_for_post(http_backend, http_lb):
    be = http_backend("live")
    lb = http_lb([DeadServer("dead"), be])
    for i in range(4):
        with HttpClient(lb.addr) as c:
            r = c.request("POST", "/p%d" % i, body=b"payload-%d" % i)
            assert (r.status, r.body) == (200, b"live\n")
    assert [(q.method, q.target, q.body) for q in be.requests] == \
        [("POST", "/p%d" % i, b"payload-%d" % i) for i in range(4)]
    assert lb.server("dead")["connect_errors"] >= 1


def test_connect_failure_retries_zero_gets_503(http_backend, http_lb):
    be = http_backend("live")
    lb = http_lb([DeadServer("dead"), be], extra=["--retries", "0"])
    statuses = []
    for i in range(2):
        rs, _, _ = exchange_raw(lb.addr, build_request(fields=[("Connection", "close")]))
        statuses.append(rs[0].status)
    assert sorted(statuses) == [200, 503]


def closer(req, conn, be):
    """Reads the request, then closes without a byte."""
    return None


def test_early_close_retried_for_get(http_backend, http_lb):
    a = http_backend("a", respond=closer)
    b = http_backend("b")
    lb = http_lb([a, b])
    for i in range(4):
        with HttpClient(lb.addr) as c:
            r = c.request("GET", "/g%d" % i)
            assert (r.status, r.body) == (200, b"b\n")
    assert len(a.requests) >= 1, "roundrobin never picked the closing server"
    assert [q.target for q in b.requests] == ["/g%d" % i for i in range(4)]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "HEAD", "OPTIONS"])
def test_early_close_retried_for_idempotent_methods(http_backend, http_lb, method):
    a = http_backend("a", respond=closer)
    b = http_backend("b", respond=closer)
    c_ = http_backend("c", respond=closer)
    lb = http_lb([a, b, c_])
    body = b"small" if method == "PUT" else None
    rs, _, _ = exchange_raw(lb.addr, build_request(method, "/x", body=body))
    seen = [q.method for s in (a, b, c_) for q in s.requests]
    assert seen == [method] * 3, "retries=2: the request goes to each server once, got %r" % seen
    # every server was reached and closed early: 502 (503 is for "no server")
    assert_error_response(rs[0], 502)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_early_close_not_retried_for_post(http_backend, http_lb, method):
    a = http_backend("a", respond=closer)
    b = http_backend("b", respond=closer)
    lb = http_lb([a, b])
    rs, _, closed = exchange_raw(lb.addr, build_request(method, "/once", body=b"charge-card"))
    assert len(rs) == 1
    assert_error_response(rs[0], 502)
    seen = [(q.method, q.body) for s in (a, b) for q in s.requests]
    assert seen == [(method, b"charge-card")], "a %s reached %d servers" % (method, len(seen))


@pytest.mark.parametrize("size,attempts", [(16000, 2), (16 * 1024, 2), (16 * 1024 + 1, 1)])
def test_early_close_retry_body_limit(http_backend, http_lb, size, attempts):
    """An idempotent request is retried only while its body (<= 16 KB) is held."""
    a = http_backend("a", respond=closer)
    b = http_backend("b", respond=closer)
    lb = http_lb([a, b])
    rs, _, _ = exchange_raw(lb.addr, build_request("PUT", "/x", body=b"q" * size))
    got = [len(q.body) for s in (a, b) for q in s.requests]
    assert got == [size] * attempts
    assert_error_response(rs[0], 502)


def test_early_close_not_retried_for_a_large_put(http_backend, http_lb):
    a = http_backend("a", respond=closer)
    b = http_backend("b", respond=closer)
    lb = http_lb([a, b])
    rs, _, _ = exchange_raw(lb.addr, build_request("PUT", "/big", body=b"z" * 100000))
    assert_error_response(rs[0], 502)
    assert len(a.requests) + len(b.requests) == 1


def test_retries_flag_limits_attempts(http_backend, http_lb):
    servers = [http_backend("s%d" % i, respond=closer) for i in range(4)]
    lb = http_lb(servers, extra=["--retries", "1"])
    rs, _, _ = exchange_raw(lb.addr, build_request("GET", "/"))
    assert sum(len(s.requests) for s in servers) == 2
    assert_error_response(rs[0], 502)
