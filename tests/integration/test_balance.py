"""Balancing algorithms: roundrobin (smooth weighted), leastconn, random2,
source (consistent hashing), leasttime."""

import collections
import threading
import time

import pytest

from conftest import (HttpConn, http_get_via, http_reply, read_http_request, server_stats,
                      stats, wait_active, wait_state)


def names_via(addr, n, **kw):
    return [http_get_via(addr, **kw) for _ in range(n)]


def wait_idle(lb, names):
    """Wait until the lb counts no active connection on any of `names`
    (a client's close reaches the lb asynchronously)."""
    for n in names:
        wait_active(lb.admin, n, 0)


# --------------------------------------------------------- roundrobin ---

def test_roundrobin_equal_weights_exact_order(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "roundrobin")
    got = names_via(lb.addr, 12)
    assert got == ["a", "b", "c"] * 4


def test_roundrobin_weights_5_1_1_smooth_sequence(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "roundrobin", weights=[5, 1, 1])
    first = names_via(lb.addr, 7)
    # nginx's smooth weighted round robin, as documented in balance.h
    assert first == ["a", "a", "b", "a", "c", "a", "a"]
    rest = names_via(lb.addr, 63)
    counts = collections.Counter(first + rest)
    assert counts == {"a": 50, "b": 10, "c": 10}
    # the order repeats every 7 connections
    assert (first + rest)[7:14] == first


@pytest.mark.parametrize("threads", [2, 4])
def test_roundrobin_weights_exact_with_several_threads(start_echo, lb_for, threads):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "roundrobin", threads=threads, weights=[5, 1, 1])
    counts = collections.Counter(names_via(lb.addr, 70))
    assert counts == {"a": 50, "b": 10, "c": 10}
    st = stats(lb.admin)
    assert st["threads"] == threads
    totals = {s["name"]: s["total"] for s in st["pools"][0]["servers"]}
    assert totals == {"a": 50, "b": 10, "c": 10}


def test_roundrobin_concurrent_clients_exact_totals(start_echo, lb_for):
    """Parallel clients over 2 threads: the shared smooth-WRR state still
    yields exact totals (70 connections, weights 5,1,1)."""
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "roundrobin", threads=2, weights=[5, 1, 1])
    results, errors = [], []

    def worker():
        try:
            for _ in range(10):
                results.append(http_get_via(lb.addr))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=worker) for _ in range(7)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    assert collections.Counter(results) == {"a": 50, "b": 10, "c": 10}


def test_roundrobin_skips_down_server_and_takes_it_back(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "roundrobin")
    assert names_via(lb.addr, 3) == ["a", "b", "c"]
    bs[1].kill()
    wait_state(lb.admin, "b", "down")
    got = names_via(lb.addr, 10)
    assert "b" not in got
    assert collections.Counter(got) == {"a": 5, "c": 5}
    start_echo("b", addr=bs[1].addr)
    wait_state(lb.admin, "b", "up")
    got = names_via(lb.addr, 9)
    assert collections.Counter(got) == {"a": 3, "b": 3, "c": 3}


# ---------------------------------------------------------- leastconn ---

def hold_on(lb_addr, target, want, others_pool, max_tries=60):
    """Open connections through the lb, keeping the ones that landed on
    `target` until `want` are held; the others are returned (still open)."""
    held, extra = [], []
    for _ in range(max_tries):
        if len(held) == want:
            break
        c = HttpConn(lb_addr)
        (held if c.get() == target else extra).append(c)
    assert len(held) == want
    return held, extra


@pytest.mark.parametrize("algo", ["leastconn", "random2"])
def test_prefers_servers_with_fewer_connections(start_echo, lb_for, algo):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, algo)
    # Two idle connections held on a; the others on b and c are closed.
    held, extra = hold_on(lb.addr, "a", 2, None)
    for c in extra:
        c.close()
    wait_active(lb.admin, "b", 0)
    wait_active(lb.admin, "c", 0)
    assert server_stats(lb.admin, "a")["active"] == 2
    # New connections, one at a time, never go to the busier server.
    for _ in range(12):
        assert http_get_via(lb.addr) != "a"
        wait_idle(lb, ["b", "c"])
    # leastconn: held new connections fill b and c up to a's level, 2 each
    # (random2 may pick a once b or c ties with it).
    more = [HttpConn(lb.addr) for _ in range(4)]
    got = collections.Counter(c.get() for c in more)
    if algo == "leastconn":
        assert got == {"b": 2, "c": 2}
    # The old connections still work.
    for c in held:
        assert c.get() == "a"
    for c in held + more:
        c.close()


def test_leastconn_spreads_held_connections_evenly(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "leastconn")
    conns = [HttpConn(lb.addr) for _ in range(9)]
    got = collections.Counter(c.get() for c in conns)
    assert got == {"a": 3, "b": 3, "c": 3}
    actives = {s["name"]: s["active"] for s in stats(lb.admin)["pools"][0]["servers"]}
    assert actives == {"a": 3, "b": 3, "c": 3}
    for c in conns:
        c.close()
    wait_idle(lb, ["a", "b", "c"])


def test_leastconn_weighted(start_echo, lb_for):
    """(active+1)/weight with weights 5 and 2: held connections go
    a, a, b, a, a (the 6th would be a tie)."""
    bs = [start_echo(n) for n in ("a", "b")]
    lb = lb_for(bs, "leastconn", weights=[5, 2])
    conns = []
    seq = []
    for _ in range(5):
        c = HttpConn(lb.addr)
        seq.append(c.get())
        conns.append(c)
    assert seq == ["a", "a", "b", "a", "a"]
    for c in conns:
        c.close()


def test_random2_two_servers_always_the_idle_one(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b")]
    lb = lb_for(bs, "random2")
    c = HttpConn(lb.addr)
    busy = c.get()
    idle = "b" if busy == "a" else "a"
    for _ in range(10):
        assert http_get_via(lb.addr) == idle
        wait_active(lb.admin, idle, 0)
    c.close()


def test_random2_distributes(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "random2")
    conns = [HttpConn(lb.addr) for _ in range(30)]
    got = collections.Counter(c.get() for c in conns)
    # Power of two choices keeps held connections close to even (a gap over
    # 6 has a probability of about 1e-6; with one random choice, ~25%).
    assert set(got) == {"a", "b", "c"}
    assert max(got.values()) - min(got.values()) <= 6, got
    for c in conns:
        c.close()


# ------------------------------------------------------------- source ---

CLIENT_IPS = ["127.0.0.%d" % i for i in range(2, 202)]


def source_map(lb_addr):
    return {ip: http_get_via(lb_addr, source_ip=ip) for ip in CLIENT_IPS}


def test_source_same_client_same_server(start_echo, lb_for):
    bs = [start_echo(n) for n in ("s1", "s2", "s3")]
    lb = lb_for(bs, "source")
    got = set(names_via(lb.addr, 10, source_ip="127.0.0.1"))
    assert len(got) == 1
    for ip in ("127.0.0.7", "127.0.0.42", "127.0.0.200"):
        assert len(set(names_via(lb.addr, 5, source_ip=ip))) == 1


def test_source_consistent_hashing_moves_only_the_dead_servers_clients(start_echo, lb_for):
    bs = [start_echo(n) for n in ("s1", "s2", "s3")]
    lb = lb_for(bs, "source", threads=2)
    before = source_map(lb.addr)
    per = collections.Counter(before.values())
    assert set(per) == {"s1", "s2", "s3"}, per
    assert min(per.values()) >= 20, per  # 160 points per server: roughly even
    # a second pass is identical (stickiness)
    assert source_map(lb.addr) == before

    bs[1].kill()
    wait_state(lb.admin, "s2", "down")
    during = source_map(lb.addr)
    for ip in CLIENT_IPS:
        if before[ip] == "s2":
            assert during[ip] in ("s1", "s3")
        else:
            assert during[ip] == before[ip], ip
    # The dead server's clients are spread, not all dumped on one server.
    moved = collections.Counter(during[ip] for ip in CLIENT_IPS if before[ip] == "s2")
    assert len(moved) == 2, moved

    start_echo("s2", addr=bs[1].addr)
    wait_state(lb.admin, "s2", "up")
    assert source_map(lb.addr) == before  # they come back


def test_source_weights(start_echo, lb_for):
    """160 ring points per unit of weight: a weight-3 server gets the most clients."""
    bs = [start_echo(n) for n in ("s1", "s2", "s3")]
    lb = lb_for(bs, "source", weights=[3, 1, 1])
    per = collections.Counter(source_map(lb.addr).values())
    assert per["s1"] > per["s2"] + per["s3"] * 0.5 and per["s1"] > 80, per
    assert per["s2"] > 0 and per["s3"] > 0, per


# ---------------------------------------------------------- leasttime ---

def slow_http(delay):
    def handler(conn):
        while True:
            req = read_http_request(conn)
            if not req:
                return
            time.sleep(delay)
            conn.sendall(http_reply("slow"))
    return handler


def test_leasttime_tries_unmeasured_first_then_prefers_fast(start_echo, lb_for, py_server):
    slow = py_server(slow_http(0.3))
    fast = [start_echo(n) for n in ("f1", "f2")]

    class B:
        pass
    sb = B()
    sb.addr, sb.name = slow.addr, "slow"
    lb = lb_for([fast[0], sb, fast[1]], "leasttime")
    first = names_via(lb.addr, 3)
    assert sorted(first) == ["f1", "f2", "slow"]  # no sample yet: tried first
    assert server_stats(lb.admin, "slow")["response_time_us"] >= 250000
    got = names_via(lb.addr, 15)
    assert "slow" not in got
    assert set(got) <= {"f1", "f2"}


def test_leasttime_avoids_a_down_server(start_echo, lb_for):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, "leasttime")
    got = names_via(lb.addr, 6)
    assert set(got) == {"a", "b", "c"}
    bs[0].kill()
    wait_state(lb.admin, "a", "down")
    got = names_via(lb.addr, 12)
    assert "a" not in got
    for s in stats(lb.admin)["pools"][0]["servers"]:
        assert s["response_time_us"] > 0


# ----------------------------------------------------- every algorithm ---

@pytest.mark.parametrize("algo", ["roundrobin", "leastconn", "source", "leasttime", "random2"])
def test_every_algorithm_serves_and_avoids_down_server(start_echo, lb_for, algo):
    bs = [start_echo(n) for n in ("a", "b", "c")]
    lb = lb_for(bs, algo)
    assert stats(lb.admin)["pools"][0]["balance"] == algo
    bs[2].kill()
    wait_state(lb.admin, "c", "down")
    errors_before = server_stats(lb.admin, "c")["connect_errors"]
    ips = ["127.0.0.%d" % i for i in range(2, 32)]
    got = [http_get_via(lb.addr, source_ip=ip) for ip in ips]
    assert set(got) <= {"a", "b"}
    # a down server is not even tried
    assert server_stats(lb.admin, "c")["connect_errors"] == errors_before


# ----------------------------------------------- source, bounded loads ---

def test_source_hash_balance_factor_spills_a_hot_client(start_echo, lb_for):
    """One client IP would put every connection on one server; with
    --hash-balance-factor 125 a server at 125% of the mean is skipped, so
    held connections spread while each stays where it landed."""
    bs = [start_echo(n) for n in ("a", "b", "c")]
    plain = lb_for(bs, "source")
    held = [HttpConn(plain.addr) for _ in range(9)]
    assert len({c.get() for c in held}) == 1          # sticky: all on one server
    for c in held:
        c.close()

    bounded = lb_for(bs, "source", extra=["--hash-balance-factor", "125"])
    held = []
    for _ in range(9):
        c = HttpConn(bounded.addr)
        c.get()
        held.append(c)
    counts = collections.Counter(c.get() for c in held)   # a second request: same server
    # cap for the 9th connection: ceil(1.25 x 9 / 3) = 4
    assert max(counts.values()) <= 4, counts
    assert len(counts) == 3, counts
    for c in held:
        c.close()
