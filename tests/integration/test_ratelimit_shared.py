"""Shared rate limits: several strata lb instances hold one limit through a
real redis-server (one atomic Lua call per decision, the store's clock);
the store down, hung or restarted is decided by on-store-error within the
bounded wait, with a metric and a log line."""

import signal
import threading
import time

import pytest

from conftest import (admin_get, clear_of_window_edge, exchange_raw, free_addr, parse_metrics,
                      run_strata, stats, tcp_served, wait_until)


def get(addr, path="/", headers=""):
    rs, _, _ = exchange_raw(addr, ("GET %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n"
                                   % (path, headers)).encode())
    return rs[0]


@pytest.fixture
def shared_lb(http_lb):
    """shared_lb(backend, rate, store_addr, *flags) -> Lb whose --rate-limit
    is shared through the store."""

    def start(backend, rate, store, *flags, threads=2):
        return http_lb([backend], threads=threads,
                       extra=["--rate-limit", rate, "--rate-limit-store", store] + list(flags))

    return start


def store_errors(lb):
    m = parse_metrics(admin_get(lb.admin, "/metrics").text)
    return m[("strata_lb_ratelimit_store_errors_total", frozenset({("rule", "default")}))]


def test_two_lbs_hold_one_limit_under_concurrency(http_backend, start_redis, shared_lb):
    b = http_backend("a")
    store = start_redis()
    lbs = [shared_lb(b, "fixed:20/60m", store.addr) for _ in range(2)]
    clear_of_window_edge(3600)
    codes = []
    lock = threading.Lock()

    def client(i):
        for k in range(10):
            st = get(lbs[(i + k) % 2].addr).status
            with lock:
                codes.append(st)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(codes) == 60
    assert codes.count(200) == 20 and codes.count(429) == 40
    assert len(b.requests) == 20
    rules = [lb.stats()["ratelimits"][0] for lb in lbs]
    assert sum(r["allowed"] for r in rules) == 20 and sum(r["limited"] for r in rules) == 40
    assert all(r["scope"] == "shared" and r["store_errors"] == 0 for r in rules)


@pytest.mark.parametrize("algo", ["token", "leaky", "fixed", "log", "sliding", "gcra"])
def test_shared_decides_as_the_local_rule(http_backend, start_redis, shared_lb, http_lb, algo):
    """The store's script is the library's arithmetic: the same answers, the
    same fields, whichever instance is asked."""
    b = http_backend("a")
    store = start_redis()
    rate = "%s:4/60m" % algo
    shared = [shared_lb(b, rate, store.addr) for _ in range(2)]
    local = http_lb([b], extra=["--rate-limit", rate])
    clear_of_window_edge(3600)
    seen = {"shared": [], "local": []}
    for i in range(7):
        for kind, addr in (("shared", shared[i % 2].addr), ("local", local.addr)):
            r = get(addr)
            seen[kind].append((r.status, r.get("X-RateLimit-Remaining"),
                               r.get("RateLimit-Policy")))
    assert seen["shared"] == seen["local"]
    assert [s[0] for s in seen["shared"]] == [200] * 4 + [429] * 3


def test_store_keys_name_the_rule_and_client_and_expire(http_backend, start_redis, shared_lb):
    b = http_backend("a")
    store = start_redis()
    lb = shared_lb(b, "gcra:10/1m", store.addr)
    assert get(lb.addr).status == 200
    key = "strata:rl:gcra:default:127.0.0.1"
    assert store.cli("--scan", "--pattern", "strata:rl:*") == key
    ttl = int(store.cli("PTTL", key))
    assert 0 < ttl <= 6000  # as good as new once one emission interval (6 s) has passed


def test_store_down_fails_open_at_once(http_backend, shared_lb):
    b = http_backend("a")
    # nothing listens there; a long timeout the requests must not wait
    lb = shared_lb(b, "token:1/1m", free_addr(), "--rate-limit-store-timeout", "5s")
    t0 = time.monotonic()
    codes = [get(lb.addr).status for _ in range(5)]
    assert codes == [200] * 5 and len(b.requests) == 5
    assert time.monotonic() - t0 < 2.5
    assert store_errors(lb) == 5
    lb.proc.wait_log("allowing (on-store-error = open)")
    rule = lb.stats()["ratelimits"][0]
    assert rule["allowed"] == 5 and rule["store_errors"] == 5


def test_store_down_fails_closed(http_backend, shared_lb):
    b = http_backend("a")
    lb = shared_lb(b, "token:100/1s", free_addr(), "--rate-limit-on-store-error", "closed")
    r = get(lb.addr)
    assert r.status == 429 and r.get("Retry-After") == "1"
    assert len(b.requests) == 0 and store_errors(lb) == 1
    lb.proc.wait_log("refusing (on-store-error = closed)")


def test_hung_store_is_waited_for_a_bounded_time(http_backend, start_redis, shared_lb):
    """A store that accepts but never answers (SIGSTOP): each request waits
    the store timeout, then on-store-error decides; once the store answers
    again it decides again."""
    b = http_backend("a")
    store = start_redis()
    lb = shared_lb(b, "fixed:10/60m", store.addr, "--rate-limit-on-store-error", "closed",
                   "--rate-limit-store-timeout", "200ms", threads=1)
    clear_of_window_edge(3600)
    assert get(lb.addr).status == 200
    store.proc.signal(signal.SIGSTOP)
    try:
        for _ in range(3):
            t0 = time.monotonic()
            r = get(lb.addr)
            took = time.monotonic() - t0
            assert r.status == 429 and 0.18 <= took < 4, took
    finally:
        store.proc.signal(signal.SIGCONT)
    assert len(b.requests) == 1
    # The store answers again and decides again. The three calls it got
    # while stopped were run when it resumed: refused here, but counted
    # there (a late call is never taken back).
    wait_until(lambda: get(lb.addr).status == 200, 10, "store deciding again")
    r = get(lb.addr)
    assert r.status == 200 and int(r.get("X-RateLimit-Remaining")) <= 10 - 1 - 3 - 2
    assert store.cli("HGET", "strata:rl:fixed:default:127.0.0.1", "n") == \
        str(10 - int(r.get("X-RateLimit-Remaining")))


def test_script_flush_and_store_restart_recover(http_backend, start_redis, shared_lb):
    b = http_backend("a")
    store = start_redis()
    lb = shared_lb(b, "token:3/1m", store.addr, threads=1)
    assert get(lb.addr).get("X-RateLimit-Remaining") == "2"
    store.cli("SCRIPT", "FLUSH")
    # The next call meets NOSCRIPT (decided open, counted); the script is
    # loaded again and the store decides the one after.
    assert get(lb.addr).status == 200 and store_errors(lb) == 1
    assert get(lb.addr).get("X-RateLimit-Remaining") == "1"
    # A restart loses the store's state: the limit starts afresh.
    store.proc.kill()
    store = start_redis(store.addr)
    wait_until(lambda: get(lb.addr).get("X-RateLimit-Remaining") == "2", 10,
               "decisions by the restarted store")
    lb.proc.wait_log("connected again")


def test_local_allowance_saves_round_trips(http_backend, start_redis, shared_lb):
    """local-allowance 5: one store call takes five units and the next four
    requests spend them with no call; the limit still holds exactly."""
    b = http_backend("a")
    store = start_redis()
    lb = shared_lb(b, "fixed:20/60m", store.addr, "--rate-limit-local-allowance", "5", threads=1)
    clear_of_window_edge(3600)
    rs = [get(lb.addr) for _ in range(25)]
    assert [r.status for r in rs] == [200] * 20 + [429] * 5
    assert [int(r.get("X-RateLimit-Remaining")) for r in rs[:20]] == list(range(19, -1, -1))
    stats_line = [x for x in store.cli("INFO", "commandstats").splitlines()
                  if x.startswith("cmdstat_evalsha:")][0]
    assert "calls=9," in stats_line  # 4 calls of 5 units, then one per refusal
    rule = lb.stats()["ratelimits"][0]
    assert rule["allowed"] == 20 and rule["held_allowed"] == 16 and rule["limited"] == 5


def test_local_allowance_error_is_bounded_by_held_units(http_backend, start_redis, shared_lb):
    """Two instances, limit 6, allowance 5: the first holds four units the
    second cannot have, so the second is refused while the first still
    serves (the documented false denies); the total never passes 6."""
    b = http_backend("a")
    store = start_redis()
    lbs = [shared_lb(b, "fixed:6/60m", store.addr, "--rate-limit-local-allowance", "5",
                     threads=1) for _ in range(2)]
    clear_of_window_edge(3600)
    codes = [get(lbs[i % 2].addr).status for i in range(12)]
    assert codes == [200, 200, 200, 429, 200, 429, 200, 429, 200, 429, 429, 429]
    assert len(b.requests) == 6


def test_tcp_connections_share_the_limit(start_echo, start_lb, start_redis):
    echo = start_echo("e")
    store = start_redis()
    listens = [free_addr(), free_addr()]
    for listen in listens:
        start_lb(["--mode", "tcp", "--listen", listen, "--server", echo.addr, "--threads", "1",
                  "--rate-limit", "gcra:2/1m:2", "--rate-limit-store", store.addr],
                 listen=listen)
    assert [tcp_served(listens[i % 2]) for i in range(4)] == [True, True, False, False]


def test_config_mixes_local_and_shared_rules(http_backend, start_redis, start_lb, tmp_conf):
    b = http_backend("a")
    store = start_redis()
    listen, admin = free_addr(), free_addr()
    path = tmp_conf(
        "[global]\nthreads = 1\nadmin = %s\naccess-log = off\nratelimit-store = %s\n"
        "ratelimit-store-timeout = 100ms\n"
        "[pool web]\nserver = %s,name=a\nhealth-check = none\n"
        "[ratelimit per-ip]\nrate = token:100/1s\n"
        "[ratelimit api-key]\nrate = sliding:2/1m\nmatch = prefix /api/\n"
        "key = header:X-Api-Key\nscope = shared\non-store-error = closed\n"
        "[listen front]\nbind = %s\npool = web\n" % (admin, store.addr, b.addr, listen))
    lb = start_lb(["-c", path], listen=listen, admin=admin)
    ka = [get(listen, "/api/x", "X-Api-Key: k1\r\n").status for _ in range(3)]
    assert ka == [200, 200, 429]
    assert get(listen, "/api/x", "X-Api-Key: k2\r\n").status == 200
    assert store.cli("EXISTS", "strata:rl:sliding:api-key:k1") == "1"
    rules = {r["name"]: r for r in stats(admin)["ratelimits"]}
    assert rules["per-ip"]["scope"] == "local" and rules["per-ip"]["allowed"] == 4
    assert rules["api-key"]["scope"] == "shared" and rules["api-key"]["limited"] == 1
    lb.proc.wait_log("shared through store %s (100 ms wait, on-store-error = closed, "
                     "local-allowance = 1)" % store.addr)


@pytest.mark.parametrize("body,needle", [
    ("[ratelimit r]\nrate = token:1/1s\nscope = shared\n", "scope shared needs ratelimit-store"),
    ("[ratelimit r]\nrate = token:1/1s\nscope = global\n", "scope: 'global'"),
    ("[ratelimit r]\nrate = token:1/1s\non-store-error = maybe\n", "on-store-error: 'maybe'"),
    ("[global]\nratelimit-store = nowhere\n", "ratelimit-store: 'nowhere'"),
    ("[ratelimit r]\nrate = token:1/1s\nlocal-allowance = 5\n", "local-allowance needs scope shared"),
    ("[global]\nratelimit-store = 127.0.0.1:6379\n[ratelimit r]\nrate = leaky:1/1s\nmode = delay\n"
     "scope = shared\nlocal-allowance = 5\n", "local-allowance needs scope shared"),
    ("[ratelimit r]\nrate = token:1/1s\nlocal-allowance = 0\n", "local-allowance: '0'"),
    ("[global]\nratelimit-store-timeout = 2m\n", "ratelimit-store-timeout: '2m'"),
    ("[global]\nratelimit-store = 127.0.0.1:6379\n[ratelimit r]\nrate = token:100000000/60m\n"
     "scope = shared\n", "below 2^53"),
])
def test_bad_shared_settings(tmp_conf, body, needle):
    path = tmp_conf("%s[pool web]\nserver = %s\n[listen front]\nbind = %s\npool = web\n"
                    % (body, free_addr(), free_addr()))
    r = run_strata(["lb", "-c", path])
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr


def test_bad_store_flags():
    base = ["lb", "--listen", free_addr(), "--server", free_addr(), "--rate-limit", "token:1/1s"]
    for flags, needle in ((["--rate-limit-store", "x"], "--rate-limit-store: 'x'"),
                          (["--rate-limit-on-store-error", "no"], "--rate-limit-on-store-error"),
                          (["--rate-limit-store-timeout", "0ms"], "--rate-limit-store-timeout")):
        r = run_strata(base + flags)
        assert r.returncode == 2 and needle in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1


def test_a_request_body_waits_with_its_request(http_backend, start_redis, shared_lb):
    """A POST whose body arrives while the store is late is forwarded whole
    once the rule decides (here: fail open after the wait)."""
    b = http_backend("a")
    store = start_redis()
    lb = shared_lb(b, "token:100/1s", store.addr, "--rate-limit-store-timeout", "300ms",
                   threads=1)
    body = b"x" * 200000
    store.proc.signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        rs, _, _ = exchange_raw(lb.addr, b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                                b"Connection: close\r\n\r\n%s" % (len(body), body))
        took = time.monotonic() - t0
    finally:
        store.proc.signal(signal.SIGCONT)
    assert rs[0].status == 200 and took >= 0.28  # it waited for the store
    assert store_errors(lb) == 1  # and was let through by on-store-error
    assert len(b.requests) == 1 and b.requests[0].body == body
