"""SIGHUP reloads `-c FILE` without dropping connections; a bad file is
rejected and the running configuration stays."""

import collections
import signal
import socket
import threading

import pytest

from conftest import (HttpConn, can_connect, closed_without_reply, free_addr, http_get_via,
                      server_stats, stats, wait_closed, wait_listening, wait_state, wait_until)


def conf_text(admin, pools, listeners, threads=1, extra_global=""):
    """pools: {name: (servers [(echo, weight)], extra lines)};
    listeners: {name: (bind, pool, extra lines)}."""
    out = ["[global]", "threads = %d" % threads, "admin = %s" % admin, "log-level = debug",
           extra_global]
    for name, (servers, extra) in pools.items():
        out += ["[pool %s]" % name, "health-check = tcp", "health-interval = 100ms",
                "rise = 2", "fall = 2"]
        for e, w in servers:
            out.append("server = %s,name=%s,weight=%d" % (e.addr, e.name, w))
        out.append(extra)
    for name, (bind, pool, extra) in listeners.items():
        out += ["[listen %s]" % name, "mode = tcp", "bind = %s" % bind, "pool = %s" % pool, extra]
    return "\n".join(out) + "\n"


class Reloadable:
    """An lb started with -c FILE, and a way to rewrite the file and reload."""

    def __init__(self, start_lb, tmp_conf, admin, text):
        self.tmp_conf = tmp_conf
        self.admin = admin
        self.path = tmp_conf(text)
        self.lb = start_lb(["-c", self.path], admin=admin)
        self.proc = self.lb.proc

    def reload(self, text, expect="reloaded"):
        self.tmp_conf(text, self.path)
        return self.hup(expect)

    def hup(self, expect="reloaded"):
        start = len(self.proc.stderr())
        self.proc.signal(signal.SIGHUP)
        self.proc.wait_log(expect, start=start)
        return self.proc.stderr()[start:]


@pytest.fixture
def reloadable(start_lb, tmp_conf):
    def make(admin, text):
        return Reloadable(start_lb, tmp_conf, admin, text)
    return make


def test_reload_changes_servers_old_connection_keeps_working(start_echo, reloadable):
    a, b, c = start_echo("a"), start_echo("b"), start_echo("c")
    admin, listen = free_addr(), free_addr()
    r = reloadable(admin, conf_text(admin, {"web": ([(a, 1), (b, 1)], "")},
                                    {"front": (listen, "web", "")}))
    held = HttpConn(listen)
    assert held.get() == "a"
    assert http_get_via(listen) == "b"

    r.reload(conf_text(admin, {"web": ([(c, 1)], "")}, {"front": (listen, "web", "")}))
    # the old connection goes on with its server
    for _ in range(3):
        assert held.get() == "a"
    # new connections follow the new configuration
    assert [http_get_via(listen) for _ in range(6)] == ["c"] * 6
    names = [s["name"] for s in stats(admin)["pools"][0]["servers"]]
    assert names == ["c"]
    held.close()


def test_reload_changes_weights(start_echo, reloadable):
    a, b = start_echo("a"), start_echo("b")
    admin, listen = free_addr(), free_addr()
    r = reloadable(admin, conf_text(admin, {"web": ([(a, 1), (b, 1)], "")},
                                    {"front": (listen, "web", "")}))
    assert collections.Counter(http_get_via(listen) for _ in range(8)) == {"a": 4, "b": 4}
    r.reload(conf_text(admin, {"web": ([(a, 3), (b, 1)], "")}, {"front": (listen, "web", "")}))
    assert collections.Counter(http_get_via(listen) for _ in range(8)) == {"a": 6, "b": 2}
    weights = {s["name"]: s["weight"] for s in stats(admin)["pools"][0]["servers"]}
    assert weights == {"a": 3, "b": 1}


def test_reload_changes_balance(start_echo, reloadable):
    a, b = start_echo("a"), start_echo("b")
    admin, listen = free_addr(), free_addr()
    r = reloadable(admin, conf_text(admin, {"web": ([(a, 1), (b, 1)], "")},
                                    {"front": (listen, "web", "")}))
    assert stats(admin)["pools"][0]["balance"] == "roundrobin"
    r.reload(conf_text(admin, {"web": ([(a, 1), (b, 1)], "balance = source")},
                       {"front": (listen, "web", "")}))
    assert stats(admin)["pools"][0]["balance"] == "source"
    assert len({http_get_via(listen) for _ in range(8)}) == 1


def test_reload_adds_a_listener_and_pool(start_echo, reloadable):
    a, b = start_echo("a"), start_echo("api")
    admin, l1, l2 = free_addr(), free_addr(), free_addr()
    r = reloadable(admin, conf_text(admin, {"web": ([(a, 1)], "")}, {"front": (l1, "web", "")}))
    assert not can_connect(l2)
    held = HttpConn(l1)
    assert held.get() == "a"
    r.reload(conf_text(admin, {"web": ([(a, 1)], ""), "api": ([(b, 1)], "balance = leastconn")},
                       {"front": (l1, "web", ""), "back": (l2, "api", "")}))
    wait_listening(l2)
    assert http_get_via(l2) == "api"
    assert http_get_via(l1) == "a"
    assert held.get() == "a"
    st = stats(admin)
    assert [l["name"] for l in st["listeners"]] == ["front", "back"]
    assert [p["name"] for p in st["pools"]] == ["web", "api"]
    held.close()


def test_reload_removes_a_listener(start_echo, reloadable):
    a = start_echo("a")
    admin, l1, l2 = free_addr(), free_addr(), free_addr()
    two = {"front": (l1, "web", ""), "back": (l2, "web", "")}
    r = reloadable(admin, conf_text(admin, {"web": ([(a, 1)], "")}, two))
    assert http_get_via(l2) == "a"
    r.reload(conf_text(admin, {"web": ([(a, 1)], "")}, {"front": (l1, "web", "")}))
    wait_closed(l2, timeout=3)
    assert http_get_via(l1) == "a"
    assert [l["name"] for l in stats(admin)["listeners"]] == ["front"]


def test_reload_removes_a_listener_while_a_connection_on_it_is_open(start_echo, reloadable):
    a = start_echo("a")
    admin, l1, l2 = free_addr(), free_addr(), free_addr()
    two = {"front": (l1, "web", ""), "back": (l2, "web", "")}
    r = reloadable(admin, conf_text(admin, {"web": ([(a, 1)], "")}, two))
    held = HttpConn(l2)
    assert held.get() == "a"
    r.reload(conf_text(admin, {"web": ([(a, 1)], "")}, {"front": (l1, "web", "")}))
    assert held.get() == "a"  # the open connection goes on
    # while the removed address stops taking clients it would never serve
    wait_closed(l2, timeout=3)
    held.close()


def test_reload_re_adds_a_removed_listener_while_a_connection_on_it_is_open(start_echo,
                                                                             reloadable):
    a = start_echo("a")
    admin, l1, l2 = free_addr(), free_addr(), free_addr()
    two = {"front": (l1, "web", ""), "back": (l2, "web", "")}
    r = reloadable(admin, conf_text(admin, {"web": ([(a, 1)], "")}, two))
    held = HttpConn(l2)
    assert held.get() == "a"
    r.reload(conf_text(admin, {"web": ([(a, 1)], "")}, {"front": (l1, "web", "")}))
    log = r.reload(conf_text(admin, {"web": ([(a, 1)], "")}, two), expect="reload")
    held.close()
    assert "reload failed" not in log, log
    assert http_get_via(l2) == "a"


def test_reload_with_an_error_keeps_the_running_configuration(start_echo, reloadable):
    a, b = start_echo("a"), start_echo("b")
    admin, listen = free_addr(), free_addr()
    good = conf_text(admin, {"web": ([(a, 1)], "")}, {"front": (listen, "web", "")})
    r = reloadable(admin, good)
    held = HttpConn(listen)
    assert held.get() == "a"
    bad = conf_text(admin, {"web": ([(b, 1)], "colour = blue")}, {"front": (listen, "web", "")})
    log = r.reload(bad, expect="reload failed")
    assert "%s:" % r.path in log and "colour" in log
    assert "reloaded" not in log
    assert r.proc.alive()
    assert held.get() == "a"
    assert [http_get_via(listen) for _ in range(4)] == ["a"] * 4
    # a file that fails validation is rejected too
    log = r.reload(conf_text(admin, {"web": ([(b, 1)], "")}, {"front": (listen, "nope", "")}),
                   expect="reload failed")
    assert "unknown pool" in log
    assert http_get_via(listen) == "a"
    # once fixed, the next SIGHUP applies it
    r.reload(conf_text(admin, {"web": ([(b, 1)], "")}, {"front": (listen, "web", "")}))
    assert http_get_via(listen) == "b"
    assert held.get() == "a"
    held.close()


def test_reload_missing_file_keeps_running(start_echo, reloadable):
    import os
    a = start_echo("a")
    admin, listen = free_addr(), free_addr()
    r = reloadable(admin, conf_text(admin, {"web": ([(a, 1)], "")}, {"front": (listen, "web", "")}))
    os.unlink(r.path)
    log = r.hup(expect="reload failed")
    assert "cannot open" in log
    assert http_get_via(listen) == "a"


def test_reload_bind_failure_keeps_the_running_configuration(start_echo, reloadable):
    a = start_echo("a")
    admin, listen = free_addr(), free_addr()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    taken_addr = "127.0.0.1:%d" % taken.getsockname()[1]
    try:
        r = reloadable(admin, conf_text(admin, {"web": ([(a, 1)], "")},
                                        {"front": (listen, "web", "")}))
        log = r.reload(conf_text(admin, {"web": ([(a, 1)], "")},
                                 {"front": (listen, "web", ""), "x": (taken_addr, "web", "")}),
                       expect="reload failed")
        assert taken_addr in log
        assert http_get_via(listen) == "a"
        assert [l["name"] for l in stats(admin)["listeners"]] == ["front"]
    finally:
        taken.close()


def test_reload_keeps_unchanged_servers_state_and_counters(start_echo, reloadable):
    a, b, c = start_echo("a"), start_echo("b"), start_echo("c")
    admin, listen = free_addr(), free_addr()
    r = reloadable(admin, conf_text(admin, {"web": ([(a, 1), (b, 1)], "")},
                                    {"front": (listen, "web", "")}))
    assert [http_get_via(listen) for _ in range(4)] == ["a", "b", "a", "b"]
    b.kill()
    wait_state(admin, "b", "down")
    before = server_stats(admin, "b")
    assert before["total"] == 2 and before["health_transitions"] == 1
    r.reload(conf_text(admin, {"web": ([(a, 1), (b, 1), (c, 1)], "")},
                       {"front": (listen, "web", "")}))
    after = server_stats(admin, "b")
    assert after["state"] == "down"
    assert after["total"] == 2
    assert after["health_transitions"] == 1
    assert server_stats(admin, "a")["total"] == 2
    assert server_stats(admin, "c")["total"] == 0
    got = [http_get_via(listen) for _ in range(6)]
    assert "b" not in got and set(got) == {"a", "c"}


def test_reload_changes_max_conns_of_a_kept_listener(start_echo, reloadable):
    a = start_echo("a")
    admin, listen = free_addr(), free_addr()
    r = reloadable(admin, conf_text(admin, {"web": ([(a, 1)], "")},
                                    {"front": (listen, "web", "max-conns = 100")}))
    held = HttpConn(listen)
    assert held.get() == "a"
    r.reload(conf_text(admin, {"web": ([(a, 1)], "")}, {"front": (listen, "web", "max-conns = 1")}))
    lst = stats(admin)["listeners"][0]
    assert lst["max_conns"] == 1 and lst["active"] == 1  # the counter carried over
    assert closed_without_reply(listen)
    assert stats(admin)["listeners"][0]["refused"] == 1
    assert held.get() == "a"
    held.close()


def test_source_mapping_after_removing_a_server(start_echo, reloadable):
    s1, s2, s3 = start_echo("s1"), start_echo("s2"), start_echo("s3")
    admin, listen = free_addr(), free_addr()
    pools = {"web": ([(s1, 1), (s2, 1), (s3, 1)], "balance = source")}
    r = reloadable(admin, conf_text(admin, pools, {"front": (listen, "web", "")}))
    ips = ["127.0.0.%d" % i for i in range(2, 152)]
    before = {ip: http_get_via(listen, source_ip=ip) for ip in ips}
    assert set(before.values()) == {"s1", "s2", "s3"}
    r.reload(conf_text(admin, {"web": ([(s1, 1), (s3, 1)], "balance = source")},
                       {"front": (listen, "web", "")}))
    after = {ip: http_get_via(listen, source_ip=ip) for ip in ips}
    for ip in ips:
        if before[ip] == "s2":
            assert after[ip] in ("s1", "s3")
        else:
            assert after[ip] == before[ip], ip


def test_no_connection_fails_during_reloads(start_echo, reloadable):
    a, b = start_echo("a"), start_echo("b")
    admin, listen = free_addr(), free_addr()
    texts = [conf_text(admin, {"web": ([(a, 1), (b, 1)], "")}, {"front": (listen, "web", "")}),
             conf_text(admin, {"web": ([(a, 2), (b, 1)], "")}, {"front": (listen, "web", "")})]
    r = reloadable(admin, texts[0])
    stop = threading.Event()
    errors, done = [], []

    def client():
        while not stop.is_set():
            try:
                assert http_get_via(listen) in ("a", "b")
                done.append(1)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

    ts = [threading.Thread(target=client) for _ in range(3)]
    for t in ts:
        t.start()
    try:
        for i in range(6):
            before = len(done)
            wait_until(lambda: len(done) >= before + 2, 10, "requests between reloads")
            r.reload(texts[(i + 1) % 2])
    finally:
        stop.set()
        for t in ts:
            t.join(30)
    assert not errors, errors[:3]
    assert len(done) >= 12
    assert r.proc.alive()


def test_sighup_without_config_file_is_ignored(start_echo, lb_for):
    a = start_echo("a")
    lb = lb_for([a])
    start = len(lb.proc.stderr())
    lb.proc.signal(signal.SIGHUP)
    lb.proc.wait_log("nothing to reload", start=start)
    assert lb.proc.alive()
    assert http_get_via(lb.addr) == "a"


def test_flags_override_file_globals_and_threads_need_restart(start_echo, reloadable, start_lb,
                                                              tmp_conf):
    a = start_echo("a")
    admin, listen = free_addr(), free_addr()
    text = conf_text(admin, {"web": ([(a, 1)], "")}, {"front": (listen, "web", "")}, threads=2)
    path = tmp_conf(text)
    lb = start_lb(["-c", path, "--threads", "1"], admin=admin)
    assert stats(admin)["threads"] == 1
    tmp_conf(conf_text(admin, {"web": ([(a, 1)], "")}, {"front": (listen, "web", "")}, threads=3),
             path)
    start = len(lb.proc.stderr())
    lb.proc.signal(signal.SIGHUP)
    lb.proc.wait_log("reloaded", start=start)
    assert "threads changes only with a restart" in lb.proc.stderr()[start:]
    assert stats(admin)["threads"] == 1
    assert http_get_via(listen) == "a"


def test_reload_points_a_listener_at_another_pool(start_echo, reloadable):
    a, b = start_echo("a"), start_echo("b")
    admin, listen = free_addr(), free_addr()
    pools = {"web": ([(a, 1)], ""), "api": ([(b, 1)], "")}
    r = reloadable(admin, conf_text(admin, pools, {"front": (listen, "web", "")}))
    held = HttpConn(listen)
    assert held.get() == "a"
    assert [http_get_via(listen) for _ in range(3)] == ["a"] * 3
    r.reload(conf_text(admin, pools, {"front": (listen, "api", "")}))
    assert [http_get_via(listen) for _ in range(3)] == ["b"] * 3
    assert held.get() == "a"
    # the listener and its counters carried over (closes reach the lb asynchronously)
    wait_until(lambda: stats(admin)["listeners"][0]["active"] == 1, 5, "one active connection")
    lst = stats(admin)["listeners"][0]
    assert lst["pool"] == "api"
    assert lst["total"] == 7
    held.close()
