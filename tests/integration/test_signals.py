"""SIGTERM / SIGINT: stop accepting, drain open connections within --grace,
exit 0; a second signal stops at once."""

import signal
import threading
import time

import pytest

from conftest import (HttpConn, _read_response, admin_get, can_connect, free_addr, http_reply,
                      read_http_request, stats, wait_closed)


class Named:
    def __init__(self, addr, name):
        self.addr, self.name = addr, name


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_exits_0_when_idle(start_echo, lb_for, signo):
    lb = lb_for([start_echo("a")])
    lb.proc.signal(signo)
    assert lb.proc.wait(10) == 0
    assert "stopped" in lb.proc.stderr()


def test_drain_refuses_new_clients_and_finishes_open_ones(start_echo, lb_for):
    lb = lb_for([start_echo("a")], extra=["--grace", "30s"])
    held = HttpConn(lb.addr)
    assert held.get() == "a"
    lb.proc.signal(signal.SIGTERM)
    lb.proc.wait_log("draining")
    # new clients are refused by the kernel
    wait_closed(lb.addr, timeout=3)
    # the admin says so
    r = admin_get(lb.admin, "/healthz")
    assert r.status_code == 503 and r.text == "draining\n"
    assert stats(lb.admin)["draining"] is True
    # the open connection still works
    for _ in range(3):
        assert held.get() == "a"
    assert lb.proc.alive()
    held.close()
    assert lb.proc.wait(10) == 0


def test_request_in_flight_during_sigterm_completes(lb_for, py_server):
    arrived = threading.Event()

    def slow(conn):
        read_http_request(conn)
        arrived.set()
        time.sleep(0.5)
        conn.sendall(http_reply("slow"))

    srv = py_server(slow)
    lb = lb_for([Named(srv.addr, "slow")], check="none", extra=["--grace", "20s"])
    c = HttpConn(lb.addr)
    c.sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert arrived.wait(10)  # the request is in flight: at the server
    lb.proc.signal(signal.SIGTERM)
    status, _, body, _ = _read_response(c.sock)
    assert status == 200 and body == b"slow\n"
    c.close()
    assert lb.proc.wait(10) == 0


def test_grace_period_ends_the_drain(start_echo, lb_for):
    lb = lb_for([start_echo("a")], extra=["--grace", "500ms"])
    held = HttpConn(lb.addr)
    assert held.get() == "a"
    t0 = time.monotonic()
    lb.proc.signal(signal.SIGTERM)
    assert lb.proc.wait(10) == 0
    assert time.monotonic() - t0 >= 0.45
    assert "grace period over" in lb.proc.stderr()
    held.sock.settimeout(5)
    try:
        assert held.sock.recv(10) == b""
    except ConnectionResetError:
        pass
    held.close()


def test_second_signal_stops_at_once(start_echo, lb_for):
    lb = lb_for([start_echo("a")], extra=["--grace", "60s"])
    held = HttpConn(lb.addr)
    assert held.get() == "a"
    lb.proc.signal(signal.SIGTERM)
    lb.proc.wait_log("draining")
    time.sleep(0.2)
    assert lb.proc.alive()
    lb.proc.signal(signal.SIGINT)
    assert lb.proc.wait(10) == 0
    held.close()


def test_drain_with_config_file(start_echo, start_lb, tmp_conf):
    a = start_echo("a")
    admin, listen = free_addr(), free_addr()
    path = tmp_conf("[global]\nthreads = 2\nadmin = %s\ngrace = 20s\n"
                    "[pool web]\nserver = %s\n[listen front]\nmode = tcp\nbind = %s\npool = web\n"
                    % (admin, a.addr, listen))
    lb = start_lb(["-c", path], admin=admin)
    conns = [HttpConn(listen) for _ in range(4)]
    for c in conns:
        assert c.get() == "a"
    lb.proc.signal(signal.SIGTERM)
    wait_closed(listen, timeout=3)
    for c in conns:
        assert c.get() == "a"
        c.close()
    assert lb.proc.wait(10) == 0


def test_sighup_during_drain_opens_no_listener(start_echo, start_lb, tmp_conf):
    a = start_echo("a")
    admin, l1, l2 = free_addr(), free_addr(), free_addr()
    base = ("[global]\nthreads = 1\nadmin = %s\ngrace = 30s\n"
            "[pool web]\nserver = %s\n[listen front]\nmode = tcp\nbind = %s\npool = web\n"
            % (admin, a.addr, l1))
    path = tmp_conf(base)
    lb = start_lb(["-c", path], admin=admin)
    held = HttpConn(l1)
    assert held.get() == "a"
    lb.proc.signal(signal.SIGTERM)
    lb.proc.wait_log("draining")
    wait_closed(l1, timeout=3)
    tmp_conf(base + "[listen back]\nmode = tcp\nbind = %s\npool = web\n" % l2, path)
    lb.proc.signal(signal.SIGHUP)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert not can_connect(l2, timeout=0.5), "a listener opened during the drain"
        time.sleep(0.05)
    assert held.get() == "a"
    held.close()
    assert lb.proc.wait(10) == 0
