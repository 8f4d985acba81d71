"""The admin endpoints: /stats (JSON), /metrics (Prometheus text), /healthz;
and log formats."""

import json
import shutil
import subprocess

import pytest
import requests

from conftest import (HttpConn, admin_get, free_addr, http_get_via, parse_metrics, stats,
                      wait_lb_idle, wait_state, wait_until)

SERVER_FAMILIES = {
    "strata_lb_server_up": "gauge",
    "strata_lb_server_active_connections": "gauge",
    "strata_lb_server_connections_total": "counter",
    "strata_lb_server_sent_bytes_total": "counter",
    "strata_lb_server_received_bytes_total": "counter",
    "strata_lb_server_connect_errors_total": "counter",
    "strata_lb_server_health_transitions_total": "counter",
}
LISTENER_FAMILIES = {
    "strata_lb_listener_active_connections": "gauge",
    "strata_lb_listener_connections_total": "counter",
    "strata_lb_listener_refused_total": "counter",
}


@pytest.fixture
def two_pools(start_echo, start_lb, tmp_conf):
    """An lb from a config file: pools web (a, b weight 2) and api (c),
    listeners front -> web and back -> api."""
    a, b, c = start_echo("a"), start_echo("b"), start_echo("c")
    admin, l1, l2 = free_addr(), free_addr(), free_addr()
    path = tmp_conf(
        "[global]\nthreads = 2\nadmin = %s\n"
        "[pool web]\nbalance = roundrobin\nserver = %s,name=a\nserver = %s,name=b,weight=2\n"
        "health-check = http:/healthz\nhealth-interval = 100ms\n"
        "[pool api]\nbalance = leastconn\nserver = %s,name=c\nhealth-check = none\n"
        "[listen front]\nmode = tcp\nbind = %s\npool = web\n"
        "[listen back]\nmode = tcp\nbind = %s\npool = api\nmax-conns = 50\n"
        % (admin, a.addr, b.addr, c.addr, l1, l2))
    lb = start_lb(["-c", path], admin=admin)
    lb.front, lb.back = l1, l2
    lb.echos = {"a": a, "b": b, "c": c}
    return lb


def test_stats_document(two_pools):
    lb = two_pools
    for _ in range(3):
        http_get_via(lb.front)
    http_get_via(lb.back)
    wait_lb_idle(lb.admin)
    r = admin_get(lb.admin, "/stats")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    st = r.json()
    assert set(st) == {"version", "uptime_s", "threads", "draining", "listeners", "pools",
                       "ratelimits"}
    assert st["ratelimits"] == []
    assert st["threads"] == 2 and st["draining"] is False
    assert isinstance(st["uptime_s"], int) and st["uptime_s"] >= 0
    assert st["version"] == subprocess.run([lb.proc.args[0], "version"], capture_output=True,
                                           text=True).stdout.split()[1]
    front, back = st["listeners"]
    no_errors = {"400": 0, "408": 0, "413": 0, "429": 0, "431": 0, "502": 0, "503": 0, "504": 0}
    assert front == {"name": "front", "bind": lb.front, "mode": "tcp", "tls": False, "pool": "web",
                     "max_conns": 10000, "active": 0, "total": 3, "refused": 0,
                     "requests": 0, "errors": no_errors}
    assert back == {"name": "back", "bind": lb.back, "mode": "tcp", "tls": False, "pool": "api",
                    "max_conns": 50, "active": 0, "total": 1, "refused": 0,
                    "requests": 0, "errors": no_errors}
    web, api = st["pools"]
    assert (web["name"], web["balance"], web["health_check"]) == ("web", "roundrobin", "http")
    assert (api["name"], api["balance"], api["health_check"]) == ("api", "leastconn", "none")
    keys = {"name", "address", "state", "weight", "active", "total", "sent_bytes",
            "received_bytes", "connect_errors", "health_transitions", "response_time_us",
            "requests", "responses"}
    for s in web["servers"] + api["servers"]:
        assert set(s) == keys
        assert s["state"] == "up" and s["active"] == 0 and s["connect_errors"] == 0
    sa, sb = web["servers"]
    assert (sa["name"], sa["address"], sa["weight"]) == ("a", lb.echos["a"].addr, 1)
    assert (sb["name"], sb["weight"]) == ("b", 2)
    assert (sa["total"], sb["total"]) == (1, 2)
    assert sb["sent_bytes"] > 0 and sb["received_bytes"] > 0 and sb["response_time_us"] > 0
    assert api["servers"][0]["total"] == 1


def test_stats_server_name_defaults_to_address(start_echo, start_lb):
    e = start_echo("x")
    listen, admin = free_addr(), free_addr()
    start_lb(["--mode", "tcp", "--listen", listen, "--server", e.addr, "--admin", admin],
             admin=admin)
    st = stats(admin)
    s = st["pools"][0]["servers"][0]
    assert s["name"] == e.addr and s["address"] == e.addr and s["weight"] == 1
    assert st["pools"][0]["name"] == "default" and st["listeners"][0]["name"] == "default"
    # defaults of the quick start
    assert st["pools"][0]["balance"] == "roundrobin"
    assert st["pools"][0]["health_check"] == "tcp"
    assert st["listeners"][0]["max_conns"] == 10000
    import os
    assert st["threads"] == os.cpu_count()


def test_stats_active_counts_held_connections(two_pools):
    lb = two_pools
    conns = [HttpConn(lb.back) for _ in range(3)]
    for c in conns:
        assert c.get() == "c"
    st = stats(lb.admin)
    assert st["listeners"][1]["active"] == 3
    assert st["pools"][1]["servers"][0]["active"] == 3
    for c in conns:
        c.close()
    wait_until(lambda: stats(lb.admin)["listeners"][1]["active"] == 0, 5, "listener idle")
    assert stats(lb.admin)["pools"][1]["servers"][0]["active"] == 0


def _families(text):
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
    return types


def test_metrics(two_pools):
    lb = two_pools
    for _ in range(3):
        http_get_via(lb.front)
    wait_lb_idle(lb.admin)
    r = admin_get(lb.admin, "/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    types = _families(r.text)
    for name, kind in list(SERVER_FAMILIES.items()) + list(LISTENER_FAMILIES.items()):
        assert types.get(name) == kind, name
    assert types.get("strata_lb_server_connect_seconds") == "histogram"
    m = parse_metrics(r.text)
    st = stats(lb.admin)

    def sample(name, **labels):
        return m[(name, frozenset(labels.items()))]

    for p in st["pools"]:
        for s in p["servers"]:
            lab = {"pool": p["name"], "server": s["name"], "address": s["address"]}
            assert sample("strata_lb_server_up", **lab) == 1
            assert sample("strata_lb_server_connections_total", **lab) == s["total"]
            assert sample("strata_lb_server_active_connections", **lab) == s["active"]
            assert sample("strata_lb_server_sent_bytes_total", **lab) == s["sent_bytes"]
            assert sample("strata_lb_server_received_bytes_total", **lab) == s["received_bytes"]
            assert sample("strata_lb_server_connect_errors_total", **lab) == 0
            assert sample("strata_lb_server_health_transitions_total", **lab) == 0
            # histogram: cumulative buckets, +Inf == _count == connects
            buckets = sorted(
                (float(dict(k[1])["le"]), v) for k, v in m.items()
                if k[0] == "strata_lb_server_connect_seconds_bucket"
                and {x: y for x, y in k[1] if x != "le"} == lab)
            assert buckets and buckets[-1][0] == float("inf")
            values = [v for _, v in buckets]
            assert values == sorted(values)
            assert buckets[-1][1] == sample("strata_lb_server_connect_seconds_count", **lab)
            assert buckets[-1][1] == s["total"]
            assert sample("strata_lb_server_connect_seconds_sum", **lab) >= 0
    for l in st["listeners"]:
        lab = {"listener": l["name"], "address": l["bind"]}
        assert sample("strata_lb_listener_connections_total", **lab) == l["total"]
        assert sample("strata_lb_listener_active_connections", **lab) == l["active"]
        assert sample("strata_lb_listener_refused_total", **lab) == l["refused"]
    assert sample("strata_lb_listener_connections_total",
                  listener="front", address=lb.front) == 3


def test_metrics_follow_health(two_pools):
    lb = two_pools
    lb.echos["a"].kill()
    wait_state(lb.admin, "a", "down")
    m = parse_metrics(admin_get(lb.admin, "/metrics").text)
    lab = frozenset({"pool": "web", "server": "a", "address": lb.echos["a"].addr}.items())
    assert m[("strata_lb_server_up", lab)] == 0
    assert m[("strata_lb_server_health_transitions_total", lab)] == 1


def test_healthz_and_other_paths(two_pools):
    lb = two_pools
    r = admin_get(lb.admin, "/healthz")
    assert r.status_code == 200 and r.text == "ok\n"
    assert admin_get(lb.admin, "/stats?pretty=1").status_code == 200
    assert admin_get(lb.admin, "/nope").status_code == 404
    assert admin_get(lb.admin, "/statsx").status_code == 404
    r = requests.post("http://%s/stats" % lb.admin, timeout=10)
    assert r.status_code == 405
    r = requests.head("http://%s/stats" % lb.admin, timeout=10)
    assert r.status_code == 200 and r.content == b""


def test_admin_keep_alive(two_pools):
    lb = two_pools
    with HttpConn(lb.admin) as c:
        for path in ("/healthz", "/stats", "/metrics", "/healthz"):
            status, _, body = c.request(path)
            assert status == 200 and body


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_through_lb_and_admin(two_pools):
    lb = two_pools
    names = []
    for _ in range(3):  # one connection each (curl reuses a connection for several URLs)
        out = subprocess.run(["curl", "-s", "--max-time", "10", "http://%s/" % lb.front],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0
        names.append(out.stdout)
    assert sorted(names) == ["a\n", "b\n", "b\n"]
    out = subprocess.run(["curl", "-sf", "--max-time", "10", "http://%s/stats" % lb.admin],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and json.loads(out.stdout)["listeners"][0]["total"] >= 1


def test_log_format_json(start_echo, lb_for):
    a = start_echo("a")
    lb = lb_for([a], extra=["--log-format", "json"])
    a.kill()
    wait_state(lb.admin, "a", "down")
    lines = [l for l in lb.proc.stderr().splitlines() if l.strip()]
    assert lines
    for line in lines:
        rec = json.loads(line)
        assert set(rec) == {"ts", "level", "msg"}
        assert rec["level"] in ("error", "warn", "info", "debug")
    assert any(json.loads(l)["level"] == "warn" and "is DOWN" in json.loads(l)["msg"]
               for l in lines)


def test_log_level_warn_hides_info(start_echo, start_lb):
    a = start_echo("a")
    listen, admin = free_addr(), free_addr()
    lb = start_lb(["--mode", "tcp", "--listen", listen, "--server", a.addr + ",name=a",
                   "--admin", admin, "--log-level", "warn", "--health-interval", "100ms"],
                  wait=False)
    wait_until(lambda: admin_get(admin, "/healthz").status_code == 200, 15, "admin")
    a.kill()
    wait_state(admin, "a", "down")
    err = lb.proc.stderr()
    assert " info " not in err and "running with" not in err
    assert "is DOWN" in err


def test_json_log_escapes_a_strange_config_path(start_echo, start_lb, tmp_path):
    """A reload error quotes the file name: quotes and backslashes in it must
    still give valid JSON lines."""
    import signal
    a = start_echo("a")
    admin, listen = free_addr(), free_addr()
    path = tmp_path / 'we"ird\\name.ini'
    good = ("[global]\nthreads = 1\nadmin = %s\nlog-format = json\n[pool web]\nserver = %s\n"
            "[listen front]\nmode = tcp\nbind = %s\npool = web\n" % (admin, a.addr, listen))
    path.write_text(good)
    lb = start_lb(["-c", path], admin=admin)
    path.write_text(good + "colour = red\n")
    lb.proc.signal(signal.SIGHUP)
    lb.proc.wait_log("reload failed")
    recs = [json.loads(l) for l in lb.proc.stderr().splitlines() if l.strip()]
    failed = [r for r in recs if "reload failed" in r["msg"]]
    assert failed and str(path) in failed[0]["msg"] and "colour" in failed[0]["msg"]
    assert http_get_via(listen) == "a"
