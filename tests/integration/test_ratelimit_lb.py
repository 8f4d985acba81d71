"""Rate limiting in strata lb: 429s with their fields that never reach a
server, tcp connections closed at once, rules from a config file (path
prefix, header key, pool), one limit shared by worker threads, bad syntax."""

import re
import time

import pytest

from conftest import (HttpClient, build_request, clear_of_window_edge, exchange_raw, free_addr,
                      run_strata, stats, tcp_served)


def get(addr, path="/", headers=""):
    rs, _, _ = exchange_raw(addr, ("GET %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n"
                                   % (path, headers)).encode())
    return rs[0]


def test_http_429_with_fields_and_no_server_contact(http_backend, http_lb):
    b = http_backend("a")
    lb = http_lb([b], extra=["--rate-limit", "token:3/1m"])
    t0 = time.monotonic()
    codes = [get(lb.addr).status for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert len(b.requests) == 3
    r = get(lb.addr)
    # Whole seconds, rounded up: less by the seconds begun since the first.
    late = int(time.monotonic() - t0)
    assert r.status == 429 and r.reason == "Too Many Requests"
    assert r.get("Content-Type") == "text/plain" and r.body == b"429 Too Many Requests\n"
    assert 20 - late <= int(r.get("Retry-After")) <= 20    # one token per 20 s
    assert r.get("RateLimit-Policy") == '"default";q=3;w=60'
    field = re.fullmatch(r'"default";r=0;t=(\d+)', r.get("RateLimit"))
    assert field and 60 - late <= int(field.group(1)) <= 60
    assert r.get("X-RateLimit-Limit") == "3"
    assert r.get("X-RateLimit-Remaining") == "0"
    assert 60 - late <= int(r.get("X-RateLimit-Reset")) <= 60
    st = stats(lb.admin)
    assert st["ratelimits"] == [{"name": "default", "rate": "token:3/1m", "allowed": 3,
                                 "limited": 3, "delayed": 0, "scope": "local", "keys": 1}]
    assert st["listeners"][0]["errors"]["429"] == 3


def test_one_limit_across_worker_threads(http_backend, http_lb):
    b = http_backend("a")
    lb = http_lb([b], threads=4, extra=["--rate-limit", "fixed:10/60m"])
    clear_of_window_edge(3600)
    codes = [get(lb.addr).status for _ in range(25)]
    assert codes.count(200) == 10 and codes.count(429) == 15
    assert len(b.requests) == 10


def test_tcp_connections_over_the_rate_are_closed(start_echo, start_lb):
    echo = start_echo("e")
    listen = free_addr()
    start_lb(["--mode", "tcp", "--listen", listen, "--server", echo.addr, "--threads", "1",
              "--rate-limit", "gcra:2/1m:2"], listen=listen)
    assert [tcp_served(listen) for _ in range(4)] == [True, True, False, False]


def test_tcp_connections_are_never_counted_as_delayed(start_echo, start_lb, tmp_conf):
    """A delay rule shapes HTTP requests; a TCP connection is let through or
    closed, never held, so it is never counted as delayed."""
    echo = start_echo("e")
    listen, admin = free_addr(), free_addr()
    path = tmp_conf("[global]\nthreads = 1\nadmin = %s\n[pool p]\nserver = %s\n"
                    "health-check = none\n[ratelimit shape]\nrate = leaky:10/1s:5\n"
                    "mode = delay\n[listen front]\nbind = %s\nmode = tcp\npool = p\n"
                    % (admin, echo.addr, listen))
    start_lb(["-c", path], listen=listen, admin=admin)
    assert [tcp_served(listen) for _ in range(4)] == [True] * 4
    rule = stats(admin)["ratelimits"][0]
    assert rule["allowed"] == 4 and rule["delayed"] == 0


def test_config_rules_prefix_header_key_and_pool(http_backend, start_lb, tmp_conf):
    api, web = http_backend("api"), http_backend("web")
    listen, admin = free_addr(), free_addr()
    path = tmp_conf(
        "[global]\nthreads = 1\nadmin = %s\naccess-log = off\n"
        "[pool api]\nserver = %s,name=api\nhealth-check = none\n"
        "[pool web]\nserver = %s,name=web\nhealth-check = none\n"
        "[ratelimit per-key]\nrate = sliding:2/1m\nmatch = prefix /api/\nkey = header:X-Api-Key\n"
        "[ratelimit web-pool]\nrate = log:1/1m\nmatch = pool web\n"
        "[listen front]\nbind = %s\nroute = prefix /api/ -> api\npool = web\n"
        % (admin, api.addr, web.addr, listen))
    start_lb(["-c", path], listen=listen, admin=admin)
    # Each API key has its own 2 per minute; requests without the key are not counted.
    ka = [get(listen, "/api/x", "X-Api-Key: a\r\n").status for _ in range(3)]
    kb = [get(listen, "/api/x", "X-Api-Key: b\r\n").status for _ in range(3)]
    nokey = [get(listen, "/api/x").status for _ in range(3)]
    assert ka == [200, 200, 429] and kb == [200, 200, 429] and nokey == [200, 200, 200]
    # The web pool: one per client address per minute.
    assert [get(listen, "/").status for _ in range(2)] == [200, 429]
    assert len(web.requests) == 1 and len(api.requests) == 7


@pytest.mark.parametrize("args,needle", [
    (["--rate-limit", "token:10"], "--rate-limit"),
    (["--rate-limit", "bucket:10/1s"], "'bucket:10/1s'"),
    (["--rate-limit", "token:0/1s"], "--rate-limit"),
    (["--rate-limit", "token:10/1h"], "--rate-limit"),
    (["--rate-limit", "token:10/1s:x"], "--rate-limit"),
    (["--rate-limit", "log:5000/1s"], "--rate-limit"),
])
def test_bad_rate_flags(args, needle):
    r = run_strata(["lb", "--listen", free_addr(), "--server", free_addr()] + args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("strata lb: ") and needle in lines[0], r.stderr


@pytest.mark.parametrize("body,needle", [
    ("[ratelimit r]\nmatch = all\n", "has no rate"),
    ("[ratelimit r]\nrate = token:1/1s\nmatch = pool nowhere\n", "unknown pool 'nowhere'"),
    ("[ratelimit r]\nrate = token:1/1s\nkey = body\n", "key: 'body'"),
    ("[ratelimit r]\nrate = token:1/1s\nmatch = path /x\n", "match: 'path /x'"),
    ("[ratelimit r]\nrate = token:1/1s\nwindow = 1s\n", "unknown key 'window'"),
])
def test_bad_rate_rules_in_config(tmp_conf, body, needle):
    path = tmp_conf("[pool web]\nserver = %s\n[listen front]\nbind = %s\npool = web\n%s"
                    % (free_addr(), free_addr(), body))
    r = run_strata(["lb", "-c", path])
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert re.match(r"strata lb: .*", r.stderr)


def test_delay_mode_shapes_instead_of_refusing(http_backend, start_lb, tmp_conf):
    """mode = delay (nginx limit_req without nodelay): requests within the
    bucket wait their turn and leave at the rule's rate; beyond it, 429."""
    b = http_backend("b")
    listen, admin = free_addr(), free_addr()
    path = tmp_conf(
        "[global]\nthreads = 1\nadmin = %s\naccess-log = off\n"
        "[pool web]\nserver = %s,name=b\nhealth-check = none\n"
        "[ratelimit shape]\nrate = leaky:10/1s:5\nmode = delay\n"
        "[listen front]\nbind = %s\npool = web\n" % (admin, b.addr, listen))
    start_lb(["-c", path], listen=listen, admin=admin)
    # Six requests within a millisecond (connections opened first): the
    # bucket of 5 takes them one per 100 ms, the sixth does not fit.
    clients = [HttpClient(listen) for _ in range(6)]
    t0 = time.monotonic()
    for i, c in enumerate(clients):
        c.send(build_request(target="/r%d" % i))
    results = []
    for c in clients:
        results.append(c.response().status)
        c.close()
    done = time.monotonic()
    assert sorted(results) == [200] * 5 + [429]
    # Five in the bucket at 10/s: the last one left at least 0.4 s after the first.
    assert done - t0 >= 0.35
    assert len(b.requests) == 5
    rule = stats(admin)["ratelimits"][0]
    assert rule["allowed"] == 5 and rule["limited"] == 1 and rule["delayed"] == 4


def test_delay_mode_needs_a_leaky_rate(tmp_conf):
    path = tmp_conf("[pool web]\nserver = %s\n[listen front]\nbind = %s\npool = web\n"
                    "[ratelimit r]\nrate = token:1/1s\nmode = delay\n" % (free_addr(), free_addr()))
    r = run_strata(["lb", "-c", path])
    assert r.returncode == 2 and "mode delay needs a leaky rate" in r.stderr


def test_allowed_responses_carry_the_fields(http_backend, http_lb):
    b = http_backend("a")
    lb = http_lb([b], extra=["--rate-limit", "token:3/1m"])
    seen = []
    for _ in range(3):
        r = get(lb.addr)
        assert r.status == 200 and r.get("Retry-After") is None
        assert r.get("RateLimit-Policy") == '"default";q=3;w=60'
        seen.append((r.get("RateLimit"), r.get("X-RateLimit-Remaining")))
    assert [x[1] for x in seen] == ["2", "1", "0"]
    assert seen[0][0] == '"default";r=2;t=20'
    # The backend never sees them: they are the balancer's.
    assert all("ratelimit" not in k for q in b.requests for k in q.names())


def test_reload_keeps_an_unchanged_rule_and_restarts_a_changed_one(http_backend, start_lb,
                                                                   tmp_conf):
    """As nginx keeps a limit_req zone across a reload: the rule that stays
    the same keeps its counts, one whose rate changed starts afresh."""
    import signal
    b = http_backend("b")
    listen, admin = free_addr(), free_addr()
    conf = ("[global]\nthreads = 2\nadmin = %s\naccess-log = off\n"
            "[pool web]\nserver = %s,name=b\nhealth-check = none\n"
            "[ratelimit stays]\nrate = token:3/60m\nmatch = prefix /a\n"
            "[ratelimit changes]\nrate = %s\nmatch = prefix /b\n"
            "[listen front]\nbind = %s\npool = web\nkeepalive-timeout = %s\n")
    path = tmp_conf(conf % (admin, b.addr, "token:2/60m", listen, "60s"))
    lb = start_lb(["-c", path], listen=listen, admin=admin)
    assert [get(listen, "/a").status for _ in range(3)] == [200] * 3
    assert [get(listen, "/b").status for _ in range(3)] == [200, 200, 429]
    for changed_rate, b_codes in (("token:2/60m", [429]), ("token:4/60m", [200] * 4 + [429])):
        start = len(lb.proc.stderr())
        tmp_conf(conf % (admin, b.addr, changed_rate, listen, "30s"), path)
        lb.proc.signal(signal.SIGHUP)
        lb.proc.wait_log("reloaded", start=start)
        assert get(listen, "/a").status == 429
        assert [get(listen, "/b").status for _ in b_codes] == b_codes
