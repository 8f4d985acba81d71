"""http mode: strict request parsing (RFC 9112). Every ambiguity is refused
with 400 (405 for CONNECT, 431 for a head too large, 413 for a body too large,
417 for an unknown expectation, 408 when the head is late), the connection is
closed, and the recording backend proves nothing ambiguous reached a server."""

import socket
import select
import time

import pytest

from conftest import (SANITIZER_MARKERS, STRATA, HttpBackend, HttpClient, ProcessManager,
                      PyServer, assert_error_response, build_request, exchange_raw, free_addr,
                      wait_listening, wait_until)

GOOD = b"GET /good HTTP/1.1\r\nHost: strata-test\r\n\r\n"

# (id, bytes): each must get exactly one 400 and a closed connection.
BAD_REQUESTS = [
    # framing: Content-Length and Transfer-Encoding
    ("cl-and-te", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("te-and-cl", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Length: 5\r\n\r\n0\r\n\r\n"),
    ("cl-twice-same", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                      b"Content-Length: 5\r\n\r\nhello"),
    ("cl-twice-differ", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                        b"Content-Length: 6\r\n\r\nhello!"),
    ("cl-list", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello"),
    ("cl-letters", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ("cl-negative", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
    ("cl-plus", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello"),
    ("cl-hex", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello"),
    ("cl-inner-space", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\nhello world!"),
    ("cl-empty", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n"),
    ("cl-overflow", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n"),
    ("cl-huge-overflow", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
                         b"99999999999999999999999999999\r\n\r\n"),
    # Transfer-Encoding not exactly chunked
    ("te-gzip-chunked", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                        b"0\r\n\r\n"),
    ("te-chunked-gzip", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
                        b"0\r\n\r\n"),
    ("te-identity", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n"),
    ("te-xchunked", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
    ("te-chunked-twice", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("te-empty", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n"),
    ("te-on-http10", b"POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    # obs-fold
    ("obs-fold-space", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"),
    ("obs-fold-tab", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n"),
    ("obs-fold-first-field", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n"),
    ("obs-fold-cl", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 5\r\n\r\nhello"),
    # whitespace before the colon
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n"),
    ("tab-before-colon", b"GET / HTTP/1.1\r\nHost: x\r\nX-A\t: a\r\n\r\n"),
    ("space-before-colon-cl", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello"),
    ("space-before-colon-te", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"
                              b"0\r\n\r\n"),
    # CR, LF, NUL inside a value
    ("cr-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"),
    ("nul-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"),
    ("lf-in-value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nX-B: b\r\n\r\n"),
    ("cr-at-value-end", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\r\n\r\n"),
    # Host
    ("no-host", b"GET / HTTP/1.1\r\nX-A: a\r\n\r\n"),
    ("host-twice", b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
    ("host-twice-same", b"GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n"),
    # method
    ("method-paren", b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("method-at", b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("method-ctl", b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("method-empty", b" / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("method-colon", b"GET: / HTTP/1.1\r\nHost: x\r\n\r\n"),
    # target
    ("target-relative", b"GET foo HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("target-star-get", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("target-absolute-other-host", b"GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("target-absolute-other-port", b"GET http://x:8080/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("target-space", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("target-double-space", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("target-nul", b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("target-empty", b"GET  HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("target-authority-form", b"GET x:80 HTTP/1.1\r\nHost: x\r\n\r\n"),
    # version
    ("version-2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
    ("version-1.2", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n"),
    ("version-0.9", b"GET / HTTP/0.9\r\nHost: x\r\n\r\n"),
    ("version-lowercase", b"GET / http/1.1\r\nHost: x\r\n\r\n"),
    ("version-11", b"GET / HTTP/11\r\nHost: x\r\n\r\n"),
    ("version-missing", b"GET /\r\nHost: x\r\n\r\n"),
    ("version-trailing-space", b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n"),
    ("version-garbage", b"GET / FOO/1.1\r\nHost: x\r\n\r\n"),
    # bare LF line endings
    ("bare-lf-everywhere", b"GET / HTTP/1.1\nHost: x\n\n"),
    ("bare-lf-request-line", b"GET / HTTP/1.1\nHost: x\r\n\r\n"),
    ("bare-lf-field", b"GET / HTTP/1.1\r\nHost: x\nX-A: a\r\n\r\n"),
    ("bare-lf-end-of-head", b"GET / HTTP/1.1\r\nHost: x\r\n\n"),
    # field names (RFC 9112: a token)
    ("field-name-space", b"GET / HTTP/1.1\r\nHost: x\r\nX A: a\r\n\r\n"),
    ("field-name-empty", b"GET / HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n"),
    ("field-no-colon", b"GET / HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n"),
    ("field-name-ctl", b"GET / HTTP/1.1\r\nHost: x\r\nX\x01A: a\r\n\r\n"),
    # garbage
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"),
]

# Chunked bodies refused after the head: the head may already have been
# forwarded, but no byte of the bad framing may reach the server.
BAD_CHUNKED = [
    ("chunk-size-letters", b"zz\r\nhello\r\n0\r\n\r\n", b"zz"),
    ("chunk-size-negative", b"-5\r\nhello\r\n0\r\n\r\n", b"-5"),
    ("chunk-size-overflow", b"10000000000000000\r\nhello\r\n0\r\n\r\n", b"10000000000000000"),
    ("chunk-size-overflow-long", b"ffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
     b"ffffffffffffffffffffffff"),
    ("chunk-size-empty", b"\r\nhello\r\n0\r\n\r\n", None),
    ("chunk-size-0x", b"0x5\r\nhello\r\n0\r\n\r\n", b"0x5"),
    ("chunk-size-space-inside", b"1 0\r\nhello\r\n0\r\n\r\n", b"1 0"),
    ("chunk-data-no-crlf", b"5\r\nhelloXX0\r\n\r\n", b"helloXX"),
    ("chunk-size-bare-lf", b"5\nhello\r\n0\r\n\r\n", b"5\nhello"),
]


def recording_backend_and_lb(http_backend, http_lb, extra=()):
    be = http_backend("rec")
    lb = http_lb([be], extra=extra)
    return be, lb


def assert_refused(addr, data, code=400):
    rs, trailing, closed = exchange_raw(addr, data)
    assert len(rs) == 1, "expected one response, got %r" % (rs,)
    assert_error_response(rs[0], code)
    assert trailing == b""
    assert closed, "the lb did not close the connection after its %d" % code
    return rs[0]


@pytest.fixture(scope="module")
def shared_lb():
    """One lb and one recording backend for all the BAD_REQUESTS cases (each
    case checks that the lb is still alive and the backend got nothing of it)."""
    mgr = ProcessManager()
    srvs = []

    def make_server(handler):
        s = PyServer(handler)
        srvs.append(s)
        return s
    be = HttpBackend(make_server, "rec")
    listen, admin = free_addr(), free_addr()
    p = mgr.start([STRATA, "lb", "--mode", "http", "--listen", listen, "--admin", admin,
                   "--threads", "1", "--health-check", "none", "--access-log", "off",
                   "--server", "%s,name=rec" % be.addr], "lb (shared)")
    try:
        p.wait_log("running with")
        wait_listening(listen, proc=p)
        yield be, listen, p
        problems = mgr.problems()
        assert not problems, "%s\n%s" % (problems, mgr.report())
    finally:
        mgr.cleanup()
        for s in srvs:
            s.close()


@pytest.mark.parametrize("data", [c[1] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS])
def test_ambiguous_request_is_refused_and_never_forwarded(shared_lb, data):
    be, addr, proc = shared_lb
    n_req, n_raw = len(be.requests), len(be.all_raw())
    try:
        # alone, on a fresh connection
        assert_refused(addr, data)
        # after a good request on the same (keep-alive) connection
        with HttpClient(addr) as c:
            c.send(GOOD)
            r = c.response()
            assert r.status == 200 and r.body == b"rec\n"
            c.send(data)
            r = c.response()
            assert_error_response(r, 400)
            assert c.closed()
        # a last good request, on whatever server connection the lb picks:
        # it arrives after anything the lb might have sent of the bad ones
        with HttpClient(addr) as c:
            assert c.request(target="/sentinel").status == 200
        new = be.requests[n_req:]
        assert [q.request_line for q in new] == ["GET /good HTTP/1.1", "GET /sentinel HTTP/1.1"]
        # the backend got exactly these two requests and not one byte more
        assert len(be.all_raw()) - n_raw == sum(len(q.raw) for q in new), be.all_raw()[n_raw:]
    finally:
        assert proc.alive(), proc.stderr()[-3000:]
        for marker in SANITIZER_MARKERS:
            assert marker not in proc.stderr(), proc.stderr()[-6000:]


@pytest.mark.parametrize("body,bad", [c[1:] for c in BAD_CHUNKED], ids=[c[0] for c in BAD_CHUNKED])
def test_malformed_chunked_body_is_refused(http_backend, http_lb, body, bad):
    be, lb = recording_backend_and_lb(http_backend, http_lb)
    head = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    rs, trailing, closed = exchange_raw(lb.addr, head + body)
    assert len(rs) == 1, rs
    assert_error_response(rs[0], 400)
    assert closed
    time.sleep(0.2)
    assert be.requests == [], "a request with a bad chunked body reached the server complete"
    raw = be.all_raw()
    if bad is not None:
        assert bad not in raw, raw
    # whatever was forwarded is a prefix of the framing strata checked: the
    # server connection must be closed (never reused after this)
    wait_until(lambda: be.finished == be.accepted, what="the server connection to close")
    assert lb.proc.alive()


def test_chunked_upload_split_byte_by_byte_is_accepted(http_backend, http_lb):
    """Control for the cases above: valid chunked framing, extensions and
    trailers, sent one byte at a time, reaches the server intact."""
    be, lb = recording_backend_and_lb(http_backend, http_lb)
    data = (b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n")
    with HttpClient(lb.addr) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            c.send(data[i:i + 1])
        r = c.response()
    assert r.status == 200 and r.body == b"rec\n"
    assert len(be.requests) == 1
    assert be.requests[0].body == b"hello0123456789"


@pytest.mark.parametrize("data,line", [
    (b"OPTIONS * HTTP/1.1\r\nHost: strata-test\r\n\r\n", "OPTIONS * HTTP/1.1"),
    (b"GET http://strata-test/p?q=1 HTTP/1.1\r\nHost: strata-test\r\n\r\n", "GET /p?q=1 HTTP/1.1"),
    (b"GET http://strata-test:8080/a/b HTTP/1.1\r\nHost: strata-test:8080\r\n\r\n",
     "GET /a/b HTTP/1.1"),
    (b"PATCH /x HTTP/1.1\r\nHost: strata-test\r\nContent-Length: 0\r\n\r\n", "PATCH /x HTTP/1.1"),
    (b"M-SEARCH /x HTTP/1.1\r\nHost: strata-test\r\n\r\n", "M-SEARCH /x HTTP/1.1"),
    (b"GET /%7euser/a%20b?x=%2F&y=~1 HTTP/1.1\r\nHost: strata-test\r\n\r\n",
     "GET /%7euser/a%20b?x=%2F&y=~1 HTTP/1.1"),
    (b"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.0"),
], ids=["options-star", "absolute-form", "absolute-form-port", "patch", "token-method",
        "target-as-received", "http10-no-host"])
def test_valid_request_lines_are_forwarded_as_received(http_backend, http_lb, data, line):
    be, lb = recording_backend_and_lb(http_backend, http_lb)
    if b"HTTP/1.1" in data:  # so that the lb closes after the answer
        data = data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    rs, _, closed = exchange_raw(lb.addr, data)
    assert closed
    assert [r.status for r in rs] == [200], rs
    assert [r.request_line for r in be.requests] == [line]


def test_valid_field_edge_cases_are_accepted(http_backend, http_lb):
    """OWS around values, empty values, tokens with every tchar, obs-text."""
    be, lb = recording_backend_and_lb(http_backend, http_lb)
    data = (b"GET / HTTP/1.1\r\nHost:strata-test\r\nX-Empty:\r\nX-Ows: \t spaced \t\r\n"
            b"!#$%&'*+-.^_`|~09azAZ: tchars\r\nX-Obs: caf\xe9\r\n\r\n")
    with HttpClient(lb.addr) as c:
        c.send(data)
        r = c.response()
    assert r.status == 200, r
    req = be.requests[0]
    assert req.get("X-Empty") == ""
    assert req.get("X-Ows") == "spaced"
    assert req.get("!#$%&'*+-.^_`|~09azAZ") == "tchars"
    assert req.get("X-Obs") == "caf\xe9"
    assert req.get("Host") == "strata-test"


# ------------------------------------------------------------ limits ---

def test_connect_method_gets_405(http_backend, http_lb):
    be, lb = recording_backend_and_lb(http_backend, http_lb)
    assert_refused(lb.addr, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                   405)
    assert be.accepted == 0


def test_unknown_expectation_gets_417(http_backend, http_lb):
    be, lb = recording_backend_and_lb(http_backend, http_lb)
    assert_refused(lb.addr, b"POST / HTTP/1.1\r\nHost: x\r\nExpect: the-unexpected\r\n"
                            b"Content-Length: 2\r\n\r\nhi", 417)
    time.sleep(0.2)
    assert be.all_raw() == b""


def test_head_larger_than_max_header_size_gets_431(http_backend, http_lb):
    be, lb = recording_backend_and_lb(http_backend, http_lb, extra=["--max-header-size", "4k"])
    # just under the limit: forwarded
    with HttpClient(lb.addr) as c:
        c.send(build_request(fields=[("X-Big", "a" * 3500)]))
        assert c.response().status == 200
    assert be.requests[0].get("X-Big") == "a" * 3500
    # above it: 431, closed, never forwarded
    assert_refused(lb.addr, build_request(fields=[("X-Big", "b" * 5000)]), 431)
    # a long request line counts too
    assert_refused(lb.addr, build_request(target="/" + "c" * 5000), 431)
    time.sleep(0.2)
    assert len(be.requests) == 1
    # Long runs: a random X-Request-Id may hold "bbbb" by chance.
    assert b"b" * 64 not in be.all_raw() and b"c" * 64 not in be.all_raw()


def test_default_max_header_size_is_32k(http_backend, http_lb):
    be, lb = recording_backend_and_lb(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        c.send(build_request(fields=[("X-Big", "a" * 30000)]))
        assert c.response().status == 200
    assert_refused(lb.addr, build_request(fields=[("X-Big", "b" * 33000)]), 431)
    assert len(be.requests) == 1


def test_head_sent_slowly_in_pieces_over_the_limit_gets_431(http_backend, http_lb):
    """The limit applies to the head as a whole, whatever the segments."""
    be, lb = recording_backend_and_lb(http_backend, http_lb, extra=["--max-header-size", "2k"])
    with HttpClient(lb.addr) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        got = None
        for i in range(100):
            try:
                c.send(b"X-F%d: %s\r\n" % (i, b"v" * 60))
            except (BrokenPipeError, ConnectionResetError):
                break
            if select.select([c.sock], [], [], 0.01)[0]:
                break
        got = c.response()
        assert_error_response(got, 431)
        assert c.closed()
    assert be.accepted == 0


def test_more_than_100_fields_gets_431(http_backend, http_lb):
    be, lb = recording_backend_and_lb(http_backend, http_lb)
    with HttpClient(lb.addr) as c:  # 99 + Host = 100 fields: fine
        c.send(build_request(fields=[("X-F%d" % i, "v") for i in range(99)]))
        assert c.response().status == 200
    assert len(be.requests[0].fields) >= 100
    assert_refused(lb.addr, build_request(fields=[("X-F%d" % i, "v") for i in range(101)]), 431)
    assert len(be.requests) == 1


def test_body_above_max_body_size_gets_413_without_contacting_a_server(http_backend, http_lb):
    be, lb = recording_backend_and_lb(http_backend, http_lb, extra=["--max-body-size", "1k"])
    with HttpClient(lb.addr) as c:
        r = c.request("POST", "/up", body=b"x" * 1000)  # 1k: 1000 or 1024
        assert r.status == 200
    assert be.requests[0].body == b"x" * 1000
    accepted = be.accepted
    # the head alone is enough for the verdict
    assert_refused(lb.addr, b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n", 413)
    assert_refused(lb.addr, b"PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n",
                   413)
    time.sleep(0.2)
    assert be.accepted == accepted and len(be.requests) == 1


def test_max_body_size_accepts_a_suffix(http_backend, http_lb):
    be, lb = recording_backend_and_lb(http_backend, http_lb, extra=["--max-body-size", "1m"])
    assert_refused(lb.addr, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                   % (1024 * 1024 + 1), 413)
    with HttpClient(lb.addr) as c:
        assert c.request("POST", "/", body=b"y" * 1000000).status == 200
    assert len(be.requests[0].body) == 1000000


# ---------------------------------------------------------- timeouts ---

def test_slowloris_head_gets_408(http_backend, http_lb):
    """A head trickled one byte every 20 ms never completes within
    --header-timeout 300ms: 408, closed, nothing forwarded."""
    be, lb = recording_backend_and_lb(http_backend, http_lb, extra=["--header-timeout", "300ms"])
    with HttpClient(lb.addr) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n"
        t0 = time.monotonic()
        for i in range(len(head)):
            if select.select([c.sock], [], [], 0.02)[0]:
                break  # strata answered
            try:
                c.send(head[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            assert time.monotonic() - t0 < 15, "no 408 after 15 s of trickling"
        r = c.response()
        assert_error_response(r, 408)
        assert c.closed()
    assert be.accepted == 0


def test_partial_head_then_silence_gets_408(http_backend, http_lb):
    be, lb = recording_backend_and_lb(http_backend, http_lb, extra=["--header-timeout", "300ms"])
    with HttpClient(lb.addr) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        r = c.response()
        assert_error_response(r, 408)
        assert c.closed()
    assert be.accepted == 0


def test_header_timeout_applies_to_the_second_request_head(http_backend, http_lb):
    be, lb = recording_backend_and_lb(http_backend, http_lb, extra=["--header-timeout", "300ms"])
    with HttpClient(lb.addr) as c:
        assert c.request().status == 200
        c.send(b"GET /second HTTP/1.1\r\nHo")
        r = c.response()
        assert_error_response(r, 408)
        assert c.closed()
    assert [r.target for r in be.requests] == ["/"]


def test_keepalive_timeout_closes_an_idle_client_silently(http_backend, http_lb):
    be, lb = recording_backend_and_lb(http_backend, http_lb,
                                      extra=["--keepalive-timeout", "300ms"])
    with HttpClient(lb.addr) as c:
        r = c.request()
        assert r.status == 200 and r.body == b"rec\n"
        # idle: closed with not one byte (no 408)
        assert c.rest() == b""
    assert lb.proc.alive()


def test_default_timeouts_keep_an_idle_client(http_backend, http_lb):
    """Without the flags (10 s head, 60 s keep-alive) a client idle for a
    second is still served on the same connection."""
    be, lb = recording_backend_and_lb(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        assert c.request().status == 200
        time.sleep(1.0)
        assert c.request().status == 200
    assert be.accepted == 1
