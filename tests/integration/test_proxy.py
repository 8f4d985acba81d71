"""The L4 proxy itself: bytes both ways (small and bulk), half-close, resets,
byte counters, idle and connect timeouts, connection limits, retries."""

import collections
import hashlib
import os
import socket
import struct
import threading
import time

import pytest

from conftest import (HttpConn, _read_response, admin_get, closed_without_reply, http_get_via,
                      parse_metrics, recv_all, server_stats, split_addr, stats, wait_active,
                      wait_lb_idle, wait_until)


class Named:
    def __init__(self, addr, name):
        self.addr, self.name = addr, name


def connect(addr, timeout=10):
    return socket.create_connection(split_addr(addr), timeout=timeout)


def digest(b):
    return hashlib.sha256(b).hexdigest()


# ----------------------------------------------------------- half-close ---

def read_to_eof_then_reply(conn):
    """Reads until the client's FIN, then answers with what it got."""
    data = recv_all(conn)
    conn.sendall(b"got %d bytes sha256 %s\n" % (len(data), digest(data).encode()))
    # a reply that needs several segments, after the client's FIN
    conn.sendall(b"tail-" * 20000)


@pytest.mark.parametrize("size", [100, 16 * 1024, 3 * 1024 * 1024 + 7])
def test_half_close_client_fin_reaches_server_reply_still_flows(lb_for, py_server, size):
    srv = py_server(read_to_eof_then_reply)
    lb = lb_for([Named(srv.addr, "py")], check="none")  # checks would hit the handler
    payload = os.urandom(size)
    s = connect(lb.addr)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    reply = recv_all(s)
    s.close()
    expect = b"got %d bytes sha256 %s\n" % (size, digest(payload).encode()) + b"tail-" * 20000
    assert len(reply) == len(expect)
    assert reply == expect


def test_half_close_server_fin_reaches_client_upload_still_flows(lb_for, py_server):
    """The server says hello and shuts down its sending side; the client sees
    EOF but can still upload, and the server receives every byte."""
    received = {}
    done = threading.Event()

    def handler(conn):
        conn.sendall(b"hello\n")
        conn.shutdown(socket.SHUT_WR)
        received["data"] = recv_all(conn)
        done.set()

    srv = py_server(handler)
    lb = lb_for([Named(srv.addr, "py")], check="none")  # checks would hit the handler
    s = connect(lb.addr)
    assert recv_all(s) == b"hello\n"  # EOF forwarded
    payload = os.urandom(2 * 1024 * 1024)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    assert done.wait(10)
    assert digest(received["data"]) == digest(payload)
    # both directions ended: the lb closes the client side cleanly
    s.settimeout(10)
    assert s.recv(10) == b""
    s.close()
    wait_active(lb.admin, "py", 0)


def test_server_greeting_then_close(lb_for, py_server):
    """A server that speaks first and closes: the client gets every byte, then EOF."""
    greeting = b"220 hello\r\n" * 1000

    def handler(conn):
        conn.sendall(greeting)
    s = py_server(handler)
    lb = lb_for([Named(s.addr, "greeter")], check="none")
    c = connect(lb.addr)
    assert recv_all(c) == greeting
    c.close()


# ----------------------------------------------------------- bulk data ---

def tcp_echo(conn):
    while True:
        b = conn.recv(1 << 16)
        if not b:
            break
        conn.sendall(b)


def test_bulk_echo_both_ways_at_once(lb_for, py_server):
    srv = py_server(tcp_echo)
    lb = lb_for([Named(srv.addr, "py")], check="none")  # checks would hit the handler
    payload = os.urandom(8 * 1024 * 1024)
    s = connect(lb.addr, timeout=30)
    got = []

    def reader():
        got.append(recv_all(s))

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    t.join(60)
    s.close()
    assert not t.is_alive()
    assert len(got[0]) == len(payload) and digest(got[0]) == digest(payload)
    wait_active(lb.admin, "py", 0)
    st = server_stats(lb.admin, "py")
    assert st["sent_bytes"] == len(payload)
    assert st["received_bytes"] == len(payload)


def test_bulk_download_slow_reader(lb_for, py_server):
    """Backpressure: a client that reads late still gets every byte."""
    payload = os.urandom(6 * 1024 * 1024)

    def sender(conn):
        conn.sendall(payload)

    srv = py_server(sender)
    lb = lb_for([Named(srv.addr, "py")], check="none")  # checks would hit the handler
    s = connect(lb.addr, timeout=30)
    time.sleep(0.5)  # nothing read: the proxy must hold off, not drop
    data = recv_all(s)
    s.close()
    assert len(data) == len(payload) and digest(data) == digest(payload)


def test_bulk_upload_then_reply(lb_for, py_server):
    srv = py_server(read_to_eof_then_reply)
    lb = lb_for([Named(srv.addr, "py")], check="none")  # checks would hit the handler
    payload = os.urandom(5 * 1024 * 1024)
    s = connect(lb.addr, timeout=30)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    reply = recv_all(s)
    s.close()
    assert reply.startswith(b"got %d bytes sha256 %s\n" % (len(payload), digest(payload).encode()))


def test_many_small_exchanges_on_one_connection_after_bulk(lb_for, py_server):
    """A direction that went bulk (splice) still carries small messages."""
    def handler(conn):
        # 1 MiB first, then a line-by-line echo
        conn.sendall(b"x" * (1 << 20))
        f = conn.makefile("rb")
        for line in f:
            conn.sendall(line.upper())

    srv = py_server(handler)
    lb = lb_for([Named(srv.addr, "py")], check="none")  # checks would hit the handler
    s = connect(lb.addr)
    assert len(recv_all(s, 1 << 20)) == 1 << 20
    for i in range(50):
        s.sendall(b"line %d\n" % i)
        want = b"LINE %d\n" % i
        got = b""
        while len(got) < len(want):
            got += s.recv(100)
        assert got == want
    s.close()


def test_concurrent_clients(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "roundrobin", threads=2)
    errors, counts = [], []

    def client():
        try:
            with HttpConn(lb.addr) as c:
                for _ in range(20):
                    assert c.get() in ("a", "b", "c")
            counts.append(1)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=client) for _ in range(40)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors[:3]
    assert len(counts) == 40
    wait_until(lambda: stats(lb.admin)["listeners"][0]["active"] == 0, 5, "listener idle")
    st = stats(lb.admin)
    assert st["listeners"][0]["total"] == 40
    assert sum(s["total"] for s in st["pools"][0]["servers"]) == 40


def test_hundreds_of_connections_at_once(start_echo, lb_for):
    bs = [start_echo(n, threads=2) for n in ("a", "b", "c")]
    lb = lb_for(bs, "leastconn", threads=2)
    conns = []
    for _ in range(300):
        c = HttpConn(lb.addr)
        c.sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        conns.append(c)
    names = collections.Counter()
    for c in conns:
        status, _, body, c.buf = _read_response(c.sock, c.buf)
        assert status == 200
        names[body.decode().strip()] += 1
    st = stats(lb.admin)
    assert st["listeners"][0]["active"] == 300
    # leastconn with all of them held: even, give or take concurrent picks on 2 threads
    assert set(names) == {"a", "b", "c"} and all(90 <= n <= 110 for n in names.values()), names
    for c in conns:
        c.close()
    wait_lb_idle(lb.admin)
    assert stats(lb.admin)["listeners"][0]["total"] == 300


# ------------------------------------------------------ byte accounting ---

def test_byte_counters_are_exact(start_echo, lb_for):
    e = start_echo("bytes")
    lb = lb_for([e])
    req = b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n"
    s = connect(lb.addr)
    total_in = 0
    for _ in range(5):
        s.sendall(req)
        buf = b""
        while not buf.endswith(b"bytes\n"):
            buf += s.recv(4096)
        total_in += len(buf)
    s.close()
    wait_active(lb.admin, "bytes", 0)
    st = server_stats(lb.admin, "bytes")
    assert st["sent_bytes"] == 5 * len(req)
    assert st["received_bytes"] == total_in
    assert st["total"] == 1


# ----------------------------------------------------------------- resets ---

def test_server_reset_resets_client(lb_for, py_server):
    def rst(conn):
        conn.recv(100)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    srv = py_server(rst)
    lb = lb_for([Named(srv.addr, "py")], check="none")  # checks would hit the handler
    s = connect(lb.addr)
    s.sendall(b"hello")
    with pytest.raises(ConnectionResetError):
        while s.recv(100):
            pass
    s.close()
    wait_active(lb.admin, "py", 0)


def test_client_reset_resets_server(lb_for, py_server):
    outcome = {}
    done = threading.Event()

    def handler(conn):
        try:
            conn.sendall(b"ready")
            data = conn.recv(100)
            outcome["first"] = data
            outcome["next"] = conn.recv(100)
        except ConnectionResetError:
            outcome["reset"] = True
        done.set()

    srv = py_server(handler)
    lb = lb_for([Named(srv.addr, "py")], check="none")  # checks would hit the handler
    s = connect(lb.addr)
    assert s.recv(5) == b"ready"
    s.sendall(b"x")
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    assert done.wait(10)
    assert outcome.get("reset"), outcome
    wait_active(lb.admin, "py", 0)


# --------------------------------------------------------------- timeouts ---

def test_idle_timeout_closes_idle_connections_only(start_echo, lb_for):
    e = start_echo("idle")
    lb = lb_for([e], extra=["--idle-timeout", "1s"])
    idle = HttpConn(lb.addr)
    busy = HttpConn(lb.addr)
    assert idle.get() == "idle" and busy.get() == "idle"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.5:  # two and a half idle timeouts
        assert busy.get() == "idle"
        time.sleep(0.1)
    idle.sock.settimeout(5)
    try:
        assert idle.sock.recv(10) == b""  # closed by the lb
    except ConnectionResetError:
        pass
    assert busy.get() == "idle"
    busy.close()
    idle.close()


def test_connect_timeout_retries_on_another_server(start_echo, lb_for):
    """A server whose accept queue is full drops SYNs: the connect times out
    after --connect-timeout and the client is served by another server."""
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    full_addr = "127.0.0.1:%d" % full.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # fill the accept queue (never accepted)
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(split_addr(full_addr))
            fillers.append(f)
        time.sleep(0.1)
        e = start_echo("ok")
        lb = lb_for([Named(full_addr, "full"), e], "roundrobin", check="none",
                    extra=["--connect-timeout", "300ms"])
        t0 = time.monotonic()
        got = [http_get_via(lb.addr) for _ in range(4)]
        assert got == ["ok"] * 4
        wait_lb_idle(lb.admin)  # timed-out connects gave their slot back
        st = server_stats(lb.admin, "full")
        assert st["connect_errors"] == 2
        assert st["total"] == 0
        assert time.monotonic() - t0 >= 0.5  # two waits of 300ms
    finally:
        for f in fillers:
            f.close()
        full.close()


# ------------------------------------------------------------- max-conns ---

@pytest.mark.parametrize("threads", [1, 2])
def test_max_conns(start_echo, lb_for, threads):
    e = start_echo("mc")
    lb = lb_for([e], threads=threads, extra=["--max-conns", "2"])
    assert stats(lb.admin)["listeners"][0]["max_conns"] == 2
    c1, c2 = HttpConn(lb.addr), HttpConn(lb.addr)
    assert c1.get() == "mc" and c2.get() == "mc"
    t0 = time.monotonic()
    assert closed_without_reply(lb.addr)
    assert time.monotonic() - t0 < 3
    lst = stats(lb.admin)["listeners"][0]
    assert lst["refused"] == 1 and lst["active"] == 2 and lst["total"] == 2
    m = parse_metrics(admin_get(lb.admin, "/metrics").text)
    refused = [v for (n, labels), v in m.items() if n == "strata_lb_listener_refused_total"]
    assert refused == [1]
    # the held ones still work
    assert c1.get() == "mc" and c2.get() == "mc"
    c1.close()
    wait_until(lambda: stats(lb.admin)["listeners"][0]["active"] == 1, 5, "one slot free")
    c3 = HttpConn(lb.addr)
    assert c3.get() == "mc"
    assert closed_without_reply(lb.addr)
    assert stats(lb.admin)["listeners"][0]["refused"] == 2
    c2.close()
    c3.close()


# --------------------------------------------------------------- retries ---

def test_retries_hide_dead_servers(start_echo, lb_for):
    """Two of three servers dead, no health checks: with the default 2
    retries every client is served."""
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "roundrobin", check="none")
    bs[0].kill()
    bs[1].kill()
    got = [http_get_via(lb.addr) for _ in range(12)]
    assert got == ["c"] * 12
    wait_lb_idle(lb.admin)  # failed connects gave their slot back
    assert server_stats(lb.admin, "a")["connect_errors"] > 0
    assert server_stats(lb.admin, "b")["connect_errors"] > 0
    assert server_stats(lb.admin, "c")["connect_errors"] == 0


def try_get(addr):
    try:
        return http_get_via(addr)
    except (ConnectionError, OSError):
        return None


def test_retries_zero_client_sees_the_failure(start_echo, lb_for):
    bs = [start_echo(n) for n in ("dead", "alive")]
    lb = lb_for(bs, "roundrobin", check="none", extra=["--retries", "0"])
    bs[0].kill()
    got = [try_get(lb.addr) for _ in range(10)]
    assert got.count(None) == 5 and got.count("alive") == 5, got
    assert server_stats(lb.admin, "dead")["connect_errors"] == 5


def test_retries_one_with_two_dead(start_echo, lb_for):
    """--retries 1: a client whose first two picks are dead servers fails;
    with roundrobin over dead,dead,alive the 1st client tries dead1 then dead2."""
    bs = [start_echo(n) for n in ("d1", "d2", "ok")]
    lb = lb_for(bs, "roundrobin", check="none", extra=["--retries", "1"])
    bs[0].kill()
    bs[1].kill()
    got = [try_get(lb.addr) for _ in range(9)]
    assert None in got
    assert "ok" in got
    assert set(got) <= {None, "ok"}


def test_no_candidate_left_when_every_server_is_dead(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b")]
    lb = lb_for(bs, check="none", extra=["--retries", "5"])
    for b in bs:
        b.kill()
    assert try_get(lb.addr) is None
    wait_lb_idle(lb.admin)
    # each server tried once, not retried on itself
    assert server_stats(lb.admin, "a")["connect_errors"] == 1
    assert server_stats(lb.admin, "b")["connect_errors"] == 1
    assert lb.proc.alive()
