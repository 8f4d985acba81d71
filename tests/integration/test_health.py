"""Active health checks (tcp, http:/PATH), passive checks (failed connects),
rise/fall, and what a down server means for traffic."""

import time

import pytest

from conftest import (HttpConn, admin_get, closed_without_reply, http_get_via, http_reply,
                      parse_metrics, read_http_request, server_stats, stats, wait_state,
                      wait_until)


class Named:
    """A backend address with a name, for lb_for()."""

    def __init__(self, addr, name):
        self.addr, self.name = addr, name


def up_metric(lb, name):
    m = parse_metrics(admin_get(lb.admin, "/metrics").text)
    for (metric, labels), v in m.items():
        if metric == "strata_lb_server_up" and dict(labels).get("server") == name:
            return v
    raise KeyError(name)


def test_killed_backend_goes_down_gets_no_traffic_and_comes_back(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "roundrobin", interval="100ms", rise=2, fall=2)
    assert server_stats(lb.admin, "b")["state"] == "up"
    assert up_metric(lb, "b") == 1
    assert server_stats(lb.admin, "b")["health_transitions"] == 0

    t0 = time.monotonic()
    bs[1].kill()
    wait_state(lb.admin, "b", "down", timeout=3.0)
    took = time.monotonic() - t0
    st = server_stats(lb.admin, "b")
    assert st["health_transitions"] == 1
    assert up_metric(lb, "b") == 0
    total_before = st["total"]
    got = [http_get_via(lb.addr) for _ in range(12)]
    assert "b" not in got
    assert server_stats(lb.admin, "b")["total"] == total_before
    assert "server default/b is DOWN" in lb.proc.stderr()

    start_echo("b", addr=bs[1].addr)
    wait_state(lb.admin, "b", "up", timeout=3.0)
    assert server_stats(lb.admin, "b")["health_transitions"] == 2
    assert up_metric(lb, "b") == 1
    assert "server default/b is UP" in lb.proc.stderr()
    got = [http_get_via(lb.addr) for _ in range(6)]
    assert got.count("b") == 2
    assert took < 3.0


def test_fall_counts_consecutive_failures(start_echo, lb_for):
    """--fall 40 at 100ms: a dead server stays up for nearly 4 s (only
    active checks: no traffic is sent)."""
    bs = [start_echo(n) for n in ("a", "b")]
    lb = lb_for(bs, interval="100ms", fall=40, rise=1)
    bs[1].kill()
    time.sleep(0.8)
    assert server_stats(lb.admin, "b")["state"] == "up"
    wait_state(lb.admin, "b", "down", timeout=15.0)
    assert server_stats(lb.admin, "b")["health_transitions"] == 1


def test_rise_needs_consecutive_good_checks(start_echo, lb_for):
    """--rise 30 at 100ms: a restarted server stays down for nearly 3 s."""
    bs = [start_echo(n) for n in ("a", "b")]
    lb = lb_for(bs, interval="100ms", fall=1, rise=30)
    bs[1].kill()
    wait_state(lb.admin, "b", "down")
    start_echo("b", addr=bs[1].addr)
    time.sleep(0.6)
    assert server_stats(lb.admin, "b")["state"] == "down"
    assert "b" not in [http_get_via(lb.addr) for _ in range(4)]
    wait_state(lb.admin, "b", "up", timeout=15.0)


def http_status_server(py_server, status_line, record=None):
    def handler(conn):
        req = read_http_request(conn)
        if record is not None:
            record.append(req)
        conn.sendall(status_line)
    return py_server(handler)


def test_http_check_status_codes(start_echo, lb_for, py_server):
    seen = []
    echo = start_echo("echo")
    ok302 = http_status_server(py_server, b"HTTP/1.1 302 Found\r\nLocation: /\r\n"
                               b"Content-Length: 0\r\n\r\n")
    ok204 = http_status_server(py_server, b"HTTP/1.1 204 No Content\r\n\r\n", seen)
    bad500 = http_status_server(py_server, b"HTTP/1.1 500 Internal Server Error\r\n"
                                b"Content-Length: 0\r\n\r\n")
    bad404 = http_status_server(py_server, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    garbage = http_status_server(py_server, b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    closer = py_server(lambda conn: None)  # accepts and closes at once
    backends = [Named(echo.addr, "echo"), Named(ok302.addr, "ok302"), Named(ok204.addr, "ok204"),
                Named(bad500.addr, "bad500"), Named(bad404.addr, "bad404"),
                Named(garbage.addr, "garbage"), Named(closer.addr, "closer")]
    lb = lb_for(backends, check="http:/health/check?x=1", interval="100ms", fall=2, rise=2)
    assert stats(lb.admin)["pools"][0]["health_check"] == "http"
    for name in ("bad500", "bad404", "garbage", "closer"):
        wait_state(lb.admin, name, "down", timeout=3.0)
    for name in ("echo", "ok302", "ok204"):
        assert server_stats(lb.admin, name)["state"] == "up", name
        assert server_stats(lb.admin, name)["health_transitions"] == 0, name
    # the check is a GET of the configured path
    wait_until(lambda: seen, 3.0, "a health check request")
    assert seen[0].startswith("GET /health/check?x=1 HTTP/1.1\r\n"), seen[0]
    # traffic goes to the healthy ones only (ok302/ok204 answer no real HTTP
    # for clients, so only count names)
    log = lb.proc.stderr()
    assert "bad500 is DOWN (check: HTTP 500)" in log
    assert "bad404 is DOWN (check: HTTP 404)" in log


def test_http_check_silent_server_times_out(lb_for, py_server, start_echo):
    """A server that accepts but never answers fails the http check (timeout)."""
    def silent(conn):
        read_http_request(conn)
        time.sleep(5)
    s = py_server(silent)
    echo = start_echo("echo")
    lb = lb_for([echo, Named(s.addr, "silent")], check="http:/", interval="100ms", fall=2,
                extra=["--connect-timeout", "200ms"])
    wait_state(lb.admin, "silent", "down", timeout=4.0)
    assert "silent is DOWN (check: timed out)" in lb.proc.stderr()
    assert server_stats(lb.admin, "echo")["state"] == "up"


def test_tcp_check_only_needs_a_connect(lb_for, py_server, start_echo):
    garbage = http_status_server(py_server, b"garbage\r\n\r\n")
    echo = start_echo("echo")
    lb = lb_for([echo, Named(garbage.addr, "garbage")], check="tcp", interval="100ms", fall=1)
    wait_until(lambda: garbage.accepted >= 3, 4.0, "three tcp checks")
    assert server_stats(lb.admin, "garbage")["state"] == "up"
    assert stats(lb.admin)["pools"][0]["health_check"] == "tcp"


def test_http_check_server_recovers(lb_for, py_server, start_echo):
    """A server failing its http check comes back once it answers 200."""
    state = {"status": b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"}

    def handler(conn):
        read_http_request(conn)
        conn.sendall(state["status"])
    s = py_server(handler)
    echo = start_echo("echo")
    lb = lb_for([echo, Named(s.addr, "flappy")], check="http:/", interval="100ms", fall=2, rise=2)
    wait_state(lb.admin, "flappy", "down", timeout=3.0)
    state["status"] = http_reply("ok")
    wait_state(lb.admin, "flappy", "up", timeout=3.0)
    assert server_stats(lb.admin, "flappy")["health_transitions"] == 2


def test_passive_failed_connects_mark_down(start_echo, lb_for):
    """With active checks every minute, failed connects of real traffic take
    a dead server out (fall 2), and clients never see a failure."""
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "roundrobin", interval="1m", fall=2, rise=1)
    # the first round of checks runs right after start; let it finish
    wait_until(lambda: "running with" in lb.proc.stderr(), 5.0, "start")
    time.sleep(0.3)
    bs[1].kill()
    got = [http_get_via(lb.addr) for _ in range(9)]
    assert "b" not in got and len(got) == 9
    st = server_stats(lb.admin, "b")
    assert st["state"] == "down"
    assert st["connect_errors"] == 2
    assert "b is DOWN (connect:" in lb.proc.stderr()
    got = [http_get_via(lb.addr) for _ in range(6)]
    assert "b" not in got
    assert server_stats(lb.admin, "b")["connect_errors"] == 2  # no longer tried


def test_health_check_none_never_marks_down_but_retries_hide_it(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "roundrobin", check="none")
    assert stats(lb.admin)["pools"][0]["health_check"] == "none"
    bs[1].kill()
    got = [http_get_via(lb.addr) for _ in range(12)]
    assert set(got) == {"a", "c"}
    st = server_stats(lb.admin, "b")
    assert st["state"] == "up"
    assert st["connect_errors"] >= 3
    assert st["health_transitions"] == 0


def test_open_connections_survive_their_server_going_down(lb_for, py_server, start_echo):
    """A server that stops accepting is marked down, but the connection
    already open to it keeps working."""
    def serve(conn):
        while True:
            req = read_http_request(conn)
            if not req:
                return
            conn.sendall(http_reply("keeper"))
    keeper = py_server(serve)
    echo = start_echo("other")
    lb = lb_for([Named(keeper.addr, "keeper"), echo], "roundrobin", interval="100ms", fall=2)
    c = HttpConn(lb.addr)
    assert c.get() == "keeper"
    keeper.stop_listening()
    wait_state(lb.admin, "keeper", "down", timeout=3.0)
    for _ in range(3):
        assert c.get() == "keeper"
    assert http_get_via(lb.addr) == "other"
    assert server_stats(lb.admin, "keeper")["active"] == 1
    c.close()


def test_all_servers_down_clients_are_closed_and_lb_recovers(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b")]
    lb = lb_for(bs, interval="100ms", fall=1, rise=1)
    for b in bs:
        b.kill()
    wait_state(lb.admin, "a", "down")
    wait_state(lb.admin, "b", "down")
    assert closed_without_reply(lb.addr)
    assert lb.proc.alive()
    start_echo("a", addr=bs[0].addr)
    wait_state(lb.admin, "a", "up")
    assert http_get_via(lb.addr) == "a"


@pytest.mark.parametrize("reply,state", [
    ([b"HTTP/1.1 200 OK\r\n\r\n"], "up"),
    ([b"HTTP/1.0 200 OK\r\n\r\n"], "up"),
    ([b"HTTP/1.1 200\r\n\r\n"], "up"),                      # no reason phrase
    ([b"HTTP/1.1 2", b"00 OK\r\n", b"\r\n"], "up"),            # status line in pieces
    ([b"HTTP/1.1 399 Whatever\r\n\r\n"], "up"),
    ([b"HTTP/1.1 199 Early\r\n\r\n"], "down"),
    ([b"HTTP/1.1 400 Bad Request\r\n\r\n"], "down"),
    ([b"HTTP/1.1 503 Busy\r\n\r\n"], "down"),
    ([b"HTTP/2 200\r\n\r\n"], "down"),
    ([b"HTTP/1.1 20"], "down"),                                 # closed mid status line
    ([b""], "down"),                                            # closed without a byte
], ids=["200", "http10", "no-reason", "split", "399", "199", "400", "503", "http2",
        "truncated", "empty"])
def test_http_check_status_line(lb_for, py_server, start_echo, reply, state):
    def handler(conn):
        read_http_request(conn)
        for part in reply:
            conn.sendall(part)
            time.sleep(0.03)
    s = py_server(handler)
    echo = start_echo("echo")
    # fall=2: one check slowed past the interval (its budget) by a busy
    # machine does not take the server down.
    lb = lb_for([echo, Named(s.addr, "x")], check="http:/", interval="100ms", fall=2, rise=1)
    wait_until(lambda: s.accepted >= 4, 10.0, "three finished checks")
    st = server_stats(lb.admin, "x")
    assert st["state"] == state
    assert st["health_transitions"] == (0 if state == "up" else 1)
