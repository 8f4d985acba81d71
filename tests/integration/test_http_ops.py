"""http mode in operation: HTTP health checks with --health-status, SIGHUP
reloading routes and pools, SIGTERM draining in-flight requests, many clients
at once on several threads, and the admin counters."""

import collections
import signal
import threading
import time

from conftest import (HttpClient, build_request, can_connect, exchange_raw, free_addr,
                      wait_state, wait_until)


def health_backend(http_backend, status_for_health):
    def respond(req, conn, be):
        if req.target == "/health":
            body = b"health\n"
            return (b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s"
                    % (status_for_health[0], len(body), body))
        return be.default_response(req)
    return http_backend("h", respond=respond)


def test_http_health_check_with_expected_status(http_backend, http_lb):
    status = [200]
    be = health_backend(http_backend, status)
    lb = http_lb([be], check="http:/health", interval="100ms", rise=1, fall=2,
                 extra=["--health-status", "204"])
    wait_state(lb.admin, "h", "down")  # 200 is not the 204 expected
    status[0] = 204
    wait_state(lb.admin, "h", "up")
    with HttpClient(lb.addr) as c:
        assert c.request().body == b"h\n"
    checks = [q for q in be.requests if q.target == "/health"]
    assert checks and all(q.method == "GET" for q in checks)


def test_http_health_check_default_accepts_2xx_3xx(http_backend, http_lb):
    status = [302]
    be = health_backend(http_backend, status)
    lb = http_lb([be], check="http:/health", interval="100ms", rise=1, fall=2)
    wait_until(lambda: len([q for q in be.requests if q.target == "/health"]) >= 3,
               what="three checks")
    assert lb.server("h")["state"] == "up"
    status[0] = 500
    wait_state(lb.admin, "h", "down")
    rs, _, _ = exchange_raw(lb.addr, build_request())
    assert rs[0].status == 503


def conf_text(admin, listen, pools, routes, default):
    text = "[global]\nthreads = 2\nadmin = %s\naccess-log = off\n" % admin
    for name, echoes in pools.items():
        text += "[pool %s]\nhealth-check = none\n" % name
        text += "".join("server = %s,name=%s\n" % (e.addr, e.name) for e in echoes)
    text += "[listen front]\nbind = %s\npool = %s\n" % (listen, default)
    text += "".join("route = %s\n" % r for r in routes)
    return text


def test_sighup_reloads_routes_and_keeps_connections(start_echo, start_lb, tmp_conf):
    a, b = start_echo("a"), start_echo("b")
    listen, admin = free_addr(), free_addr()
    path = tmp_conf(conf_text(admin, listen, {"pa": [a], "pb": [b]}, ["prefix /x/ -> pa"], "pb"))
    lb = start_lb(["-c", path], listen=listen, admin=admin)
    old = HttpClient(listen)
    assert old.request(target="/x/1").body == b"a\n"
    assert old.request(target="/y").body == b"b\n"
    start = len(lb.proc.stderr())
    tmp_conf(conf_text(admin, listen, {"pa": [a], "pb": [b]}, ["prefix /y -> pa"], "pb"), path)
    lb.proc.signal(signal.SIGHUP)
    lb.proc.wait_log("reloaded", start=start)
    with HttpClient(listen) as c:
        assert c.request(target="/x/1").body == b"b\n"
        assert c.request(target="/y").body == b"a\n"
    # the connection opened before the reload still works
    r = old.request(target="/z")
    assert r.status == 200
    old.close()


def test_sighup_with_a_bad_route_keeps_the_old_config(start_echo, start_lb, tmp_conf):
    a, b = start_echo("a"), start_echo("b")
    listen, admin = free_addr(), free_addr()
    path = tmp_conf(conf_text(admin, listen, {"pa": [a], "pb": [b]}, ["prefix /x/ -> pa"], "pb"))
    lb = start_lb(["-c", path], listen=listen, admin=admin)
    start = len(lb.proc.stderr())
    tmp_conf(conf_text(admin, listen, {"pa": [a], "pb": [b]}, ["prefix /x/ -> nope"], "pb"),
             path)
    lb.proc.signal(signal.SIGHUP)
    lb.proc.wait_log("reload failed", start=start)
    with HttpClient(listen) as c:
        assert c.request(target="/x/1").body == b"a\n"
        assert c.request(target="/q").body == b"b\n"


def test_sigterm_lets_an_inflight_request_finish(http_backend, http_lb):
    arrived = threading.Event()

    def slow(req, conn, be):
        arrived.set()
        time.sleep(0.5)
        return be.default_response(req)
    be = http_backend("slow", respond=slow)
    lb = http_lb([be], extra=["--grace", "10s"])
    c = HttpClient(lb.addr)
    c.send(build_request(target="/inflight"))
    assert arrived.wait(10)
    lb.proc.signal(signal.SIGTERM)
    lb.proc.wait_log("draining")
    r = c.response()
    assert (r.status, r.body) == (200, b"slow\n")
    # the connection is not kept for another request during a drain
    assert r.get("Connection").lower() == "close"
    c.close()
    assert lb.proc.wait(10) == 0
    assert not can_connect(lb.addr)


def test_idle_keepalive_client_does_not_hold_a_drain(http_backend, http_lb):
    be = http_backend("rec")
    lb = http_lb([be], extra=["--grace", "20s"])
    c = HttpClient(lb.addr)
    assert c.request().status == 200
    lb.proc.signal(signal.SIGTERM)
    # an idle keep-alive connection is closed, not waited for until the grace ends
    assert lb.proc.wait(10) == 0
    assert c.rest() == b""
    c.close()


def test_many_clients_on_two_threads(start_echo, http_lb):
    es = [start_echo(n) for n in ("a", "b", "c")]
    lb = http_lb(es, threads=2)
    errors, counts = [], collections.Counter()
    lock = threading.Lock()

    def client(i):
        try:
            with HttpClient(lb.addr) as c:
                for j in range(15):
                    if j % 5 == 4:
                        r = c.request("POST", "/p%d" % j, body=b"x" * (j * 100))
                    else:
                        r = c.request("GET", "/g%d/%d" % (i, j))
                    assert r.status == 200
                    with lock:
                        counts[r.text().strip()] += 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=client, args=(i,)) for i in range(40)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors[:3]
    assert sum(counts.values()) == 600
    assert set(counts) == {"a", "b", "c"}
    wait_until(lambda: sum(s.get("requests", 0) for p in lb.stats()["pools"]
                           for s in p["servers"]) == 600, what="600 requests counted")


def test_http_timeouts_and_keepalive_from_a_config_file(http_backend, start_lb, tmp_conf):
    def respond(req, conn, be):
        if req.target == "/slow":
            conn.settimeout(20)
            conn.recv(1)
            return None
        return be.default_response(req)
    be = http_backend("rec", respond=respond)
    listen, admin = free_addr(), free_addr()
    path = tmp_conf("[global]\nthreads = 1\nadmin = %s\naccess-log = off\n"
                    "[pool web]\nserver = %s,name=rec\nhealth-check = none\n"
                    "response-timeout = 1s\nserver-keepalive = 0\n"
                    "[listen front]\nbind = %s\npool = web\n"
                    "header-timeout = 1s\nkeepalive-timeout = 1500ms\n" % (admin, be.addr, listen))
    start_lb(["-c", path], listen=listen, admin=admin)
    from conftest import assert_error_response
    rs, _, closed = exchange_raw(listen, build_request(target="/slow"))
    assert_error_response(rs[0], 504)
    rs, _, closed = exchange_raw(listen, b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert_error_response(rs[0], 408)
    with HttpClient(listen) as c:
        for _ in range(3):
            assert c.request().body == b"rec\n"
        assert c.rest() == b""  # keep-alive timeout: closed silently
    # server-keepalive = 0: one server connection per request
    assert be.accepted == len(be.requests) == 4
