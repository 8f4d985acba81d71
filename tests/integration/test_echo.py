"""strata echo: the HTTP/1.1 keep-alive test backend."""

import shutil
import socket
import subprocess

import pytest
import requests

from conftest import HttpConn, _read_response, http_get_via, recv_all, split_addr


def test_body_is_name_newline(start_echo):
    e = start_echo("web-1")
    r = requests.get("http://%s/anything?x=1" % e.addr, timeout=10)
    assert r.status_code == 200
    assert r.content == b"web-1\n"
    assert r.headers["Content-Length"] == "6"


def test_default_name_is_echo(procs):
    from conftest import STRATA, free_addr, wait_listening
    addr = free_addr()
    p = procs.start([STRATA, "echo", "--listen", addr], "echo")
    wait_listening(addr, proc=p)
    assert http_get_via(addr) == "echo"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "OPTIONS"])
def test_every_method_and_path_gets_200(start_echo, method):
    e = start_echo("n1")
    r = requests.request(method, "http://%s/a/b/c" % e.addr, data=b"x" * 100, timeout=10)
    assert r.status_code == 200 and r.content == b"n1\n"


def test_keep_alive_many_requests_one_connection(start_echo):
    e = start_echo("ka")
    with HttpConn(e.addr) as c:
        for i in range(50):
            status, headers, body = c.request("/%d" % i)
            assert status == 200 and body == b"ka\n"
            assert headers.get("connection", "").lower() != "close"


def test_pipelined_requests(start_echo):
    e = start_echo("pipe")
    s = socket.create_connection(split_addr(e.addr), timeout=10)
    s.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n" * 10)
    buf = b""
    for _ in range(10):
        status, _, body, buf = _read_response(s, buf)
        assert status == 200 and body == b"pipe\n"
    s.close()


def test_request_body_is_skipped(start_echo):
    e = start_echo("body")
    s = socket.create_connection(split_addr(e.addr), timeout=10)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
              b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"3\r\nabc\r\n0\r\n\r\n"
              b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    for _ in range(3):
        status, _, body, buf = _read_response(s, buf)
        assert status == 200 and body == b"body\n"
    s.close()


def test_connection_close_and_http10(start_echo):
    e = start_echo("cl")
    s = socket.create_connection(split_addr(e.addr), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = recv_all(s)  # the server closes after the reply
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\ncl\n")
    s.close()
    s = socket.create_connection(split_addr(e.addr), timeout=10)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = recv_all(s)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"cl\n")
    s.close()


def test_head_has_no_body(start_echo):
    e = start_echo("head")
    with HttpConn(e.addr) as c:
        c.sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += c.sock.recv(4096)
        head, _, rest = buf.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 5" in head
        assert rest == b""
        c.buf = b""
        assert c.get() == "head"  # the connection is still in sync


def test_malformed_request_gets_400(start_echo):
    e = start_echo("bad")
    s = socket.create_connection(split_addr(e.addr), timeout=10)
    s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
    data = recv_all(s)
    assert data.startswith(b"HTTP/1.1 400")
    s.close()


def test_threads(start_echo):
    e = start_echo("t4", threads=4)
    conns = [HttpConn(e.addr) for _ in range(16)]
    for c in conns:
        assert c.get() == "t4"
    for c in conns:
        c.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl(start_echo):
    e = start_echo("curl-me")
    out = subprocess.run(["curl", "-s", "--max-time", "10", "http://%s/" % e.addr],
                         capture_output=True, timeout=20)
    assert out.returncode == 0 and out.stdout == b"curl-me\n"


def test_sigterm_exits_0(start_echo):
    import signal
    e = start_echo("term")
    e.proc.signal(signal.SIGTERM)
    assert e.proc.wait(10) == 0


def test_pipelined_requests_beyond_the_output_high_water_mark(start_echo):
    name = "n" * 100000                       # ~100 KB per response
    e = start_echo(name)
    s = socket.create_connection(split_addr(e.addr), timeout=3)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 40)   # one read, > 1 MiB of replies
    buf = b""
    got = 0
    try:
        for got in range(1, 41):
            status, _, body, buf = _read_response(s, buf)
            assert status == 200 and body == (name + "\n").encode()
    except socket.timeout:
        got -= 1
    s.close()
    assert got == 40, "only %d of 40 pipelined requests answered" % got
