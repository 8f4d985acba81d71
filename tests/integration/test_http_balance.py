"""http mode: sticky sessions by cookie insertion (set, honoured, replaced when
its server is down) and hash balancing on a header, a cookie, the URI or the
path (stable per key, spread over keys, round robin without a key)."""

import collections

import pytest

from conftest import HttpClient, free_addr, wait_state


def names(start_echo, *ns):
    return [start_echo(n) for n in ns]


def ask(addr, target="/", fields=()):
    with HttpClient(addr) as c:
        r = c.request("GET", target, fields=list(fields))
        assert r.status == 200, r
        return r


# ----------------------------------------------------------- sticky ---

def test_cookie_inserted_then_honoured(start_echo, http_lb):
    es = names(start_echo, "a", "b", "c")
    lb = http_lb(es, extra=["--cookie", "SRV"])
    first = [ask(lb.addr) for _ in range(3)]
    got = [r.text().strip() for r in first]
    assert sorted(got) == ["a", "b", "c"]  # no cookie: round robin
    for r, name in zip(first, got):
        assert r.lines("Set-Cookie") == ["SRV=%s; Path=/" % name]
    for name in ("a", "b", "c"):
        for _ in range(4):
            r = ask(lb.addr, fields=[("Cookie", "SRV=%s" % name)])
            assert r.text().strip() == name
            assert not r.has("Set-Cookie"), r


def test_cookie_honoured_among_other_cookies(start_echo, http_lb):
    es = names(start_echo, "a", "b", "c")
    lb = http_lb(es, extra=["--cookie", "SRV"])
    for cookie in ("x=1; SRV=b; y=2", "SRV=b", "x=SRV; SRV=b", "XSRV=a; SRV=b"):
        for _ in range(3):
            r = ask(lb.addr, fields=[("Cookie", cookie)])
            assert r.text().strip() == "b", cookie
            assert not r.has("Set-Cookie")
    # two Cookie fields (HTTP/1.1 allows them from a proxy-less client too)
    for _ in range(3):
        r = ask(lb.addr, fields=[("Cookie", "x=1"), ("Cookie", "SRV=c")])
        assert r.text().strip() == "c"


def test_cookie_on_a_keepalive_connection(start_echo, http_lb):
    es = names(start_echo, "a", "b", "c")
    lb = http_lb(es, extra=["--cookie", "SRV"])
    with HttpClient(lb.addr) as c:
        for name in ("c", "a", "c", "b", "b"):
            r = c.request(fields=[("Cookie", "SRV=" + name)])
            assert r.text().strip() == name


@pytest.mark.parametrize("cookie", ["SRV=nosuch", "SRV=", "SRV=a/b", "srv=a"])
def test_unknown_cookie_value_is_balanced_and_replaced(start_echo, http_lb, cookie):
    es = names(start_echo, "a", "b")
    lb = http_lb(es, extra=["--cookie", "SRV"])
    got = []
    for _ in range(4):
        r = ask(lb.addr, fields=[("Cookie", cookie)])
        name = r.text().strip()
        got.append(name)
        assert r.lines("Set-Cookie") == ["SRV=%s; Path=/" % name]
    assert sorted(got) == ["a", "a", "b", "b"]


def test_cookie_of_a_down_server_is_replaced(start_echo, http_lb):
    es = names(start_echo, "a", "b", "c")
    lb = http_lb(es, extra=["--cookie", "SRV"], check="tcp", interval="100ms", fall=1, rise=1)
    assert ask(lb.addr, fields=[("Cookie", "SRV=b")]).text().strip() == "b"
    es[1].kill()
    wait_state(lb.admin, "b", "down")
    for _ in range(4):
        r = ask(lb.addr, fields=[("Cookie", "SRV=b")])
        name = r.text().strip()
        assert name in ("a", "c")
        assert r.lines("Set-Cookie") == ["SRV=%s; Path=/" % name]
        # the new cookie sticks
        r2 = ask(lb.addr, fields=[("Cookie", "SRV=%s" % name)])
        assert r2.text().strip() == name and not r2.has("Set-Cookie")
    # b comes back: its cookie is honoured again
    start_echo("b", addr=es[1].addr)
    wait_state(lb.admin, "b", "up")
    r = ask(lb.addr, fields=[("Cookie", "SRV=b")])
    assert r.text().strip() == "b" and not r.has("Set-Cookie")


def test_cookie_of_a_dead_server_not_yet_marked_down(start_echo, http_lb):
    """No health checks: the connect fails, the request goes to another server
    (retry), and the client gets a cookie for the server that answered."""
    es = names(start_echo, "a", "b", "c")
    lb = http_lb(es, extra=["--cookie", "SRV"], check="none")
    es[1].kill()
    r = ask(lb.addr, fields=[("Cookie", "SRV=b")])
    name = r.text().strip()
    assert name in ("a", "c")
    assert r.lines("Set-Cookie") == ["SRV=%s; Path=/" % name]


def test_cookie_from_a_pool_in_a_config_file(start_echo, start_lb, tmp_conf):
    a, b = names(start_echo, "a", "b")
    listen, admin = free_addr(), free_addr()
    path = tmp_conf("[global]\nthreads = 1\nadmin = %s\naccess-log = off\n"
                    "[pool web]\ncookie = STICK\nhealth-check = none\n"
                    "server = %s,name=a\nserver = %s,name=b\n"
                    "[listen front]\nbind = %s\nmode = http\npool = web\n"
                    % (admin, a.addr, b.addr, listen))
    start_lb(["-c", path], listen=listen, admin=admin)
    r = ask(listen)
    name = r.text().strip()
    assert r.lines("Set-Cookie") == ["STICK=%s; Path=/" % name]
    for _ in range(3):
        assert ask(listen, fields=[("Cookie", "STICK=%s" % name)]).text().strip() == name


def test_no_cookie_without_the_setting(start_echo, http_lb):
    es = names(start_echo, "a", "b")
    lb = http_lb(es)
    r = ask(lb.addr)
    assert not r.has("Set-Cookie")


# ------------------------------------------------------------- hash ---

def spread(addr, keys, make_fields=None, make_target=None, repeat=3):
    """key -> server; asserts each key always lands on the same server."""
    where = {}
    with HttpClient(addr) as c:
        for k in keys:
            seen = set()
            for _ in range(repeat):
                fields = make_fields(k) if make_fields else []
                target = make_target(k) if make_target else "/"
                r = c.request("GET", target, fields=fields)
                assert r.status == 200
                seen.add(r.text().strip())
            assert len(seen) == 1, "key %r went to %r" % (k, seen)
            where[k] = seen.pop()
    return where


def hash_lb(start_echo, http_lb, key, threads=1):
    es = names(start_echo, "a", "b", "c")
    return http_lb(es, balance="hash", threads=threads, extra=["--hash-key", key])


def test_hash_on_header_stable_and_spread(start_echo, http_lb):
    lb = hash_lb(start_echo, http_lb, "header:X-User", threads=2)
    keys = ["user-%d" % i for i in range(60)]
    where = spread(lb.addr, keys, make_fields=lambda k: [("X-User", k)])
    assert set(where.values()) == {"a", "b", "c"}, collections.Counter(where.values())
    # the same keys, on fresh connections and the other thread: same servers
    again = {k: ask(lb.addr, fields=[("X-User", k)]).text().strip() for k in keys[:20]}
    assert again == {k: where[k] for k in keys[:20]}
    # header names are case-insensitive
    assert ask(lb.addr, fields=[("x-user", keys[0])]).text().strip() == where[keys[0]]


def test_hash_placement_is_the_same_in_another_lb(start_echo, http_lb):
    es = names(start_echo, "a", "b", "c")
    lb1 = http_lb(es, balance="hash", extra=["--hash-key", "header:X-User"])
    lb2 = http_lb(es, balance="hash", extra=["--hash-key", "header:X-User"])
    keys = ["k%d" % i for i in range(30)]
    w1 = spread(lb1.addr, keys, make_fields=lambda k: [("X-User", k)], repeat=1)
    w2 = spread(lb2.addr, keys, make_fields=lambda k: [("X-User", k)], repeat=1)
    assert w1 == w2


def test_hash_on_cookie(start_echo, http_lb):
    lb = hash_lb(start_echo, http_lb, "cookie:session")
    keys = ["s%d" % i for i in range(60)]
    where = spread(lb.addr, keys, make_fields=lambda k: [("Cookie", "a=1; session=%s; z=2" % k)])
    assert set(where.values()) == {"a", "b", "c"}
    # only the cookie's value counts, not the rest of the Cookie field
    for k in keys[:10]:
        r = ask(lb.addr, fields=[("Cookie", "session=%s; other=%s" % (k, k * 3))])
        assert r.text().strip() == where[k]


def test_hash_on_uri_includes_the_query(start_echo, http_lb):
    lb = hash_lb(start_echo, http_lb, "uri")
    targets = ["/item?id=%d" % i for i in range(60)]
    where = spread(lb.addr, targets, make_target=lambda t: t)
    assert set(where.values()) == {"a", "b", "c"}  # same path, the query spreads


def test_hash_on_path_ignores_the_query(start_echo, http_lb):
    lb = hash_lb(start_echo, http_lb, "path")
    paths = ["/p/%d" % i for i in range(60)]
    where = spread(lb.addr, paths, make_target=lambda p: p)
    assert set(where.values()) == {"a", "b", "c"}
    for p in paths[:15]:
        for q in ("?a=1", "?b=2&c=3", "?"):
            assert ask(lb.addr, target=p + q).text().strip() == where[p]


def test_hash_without_the_key_is_round_robin(start_echo, http_lb):
    lb = hash_lb(start_echo, http_lb, "header:X-User")
    got = [ask(lb.addr).text().strip() for _ in range(6)]
    assert collections.Counter(got) == {"a": 2, "b": 2, "c": 2}


def test_hash_key_moves_only_when_its_server_goes_down(start_echo, http_lb):
    es = names(start_echo, "a", "b", "c")
    lb = http_lb(es, balance="hash", extra=["--hash-key", "header:X-User"],
                 check="tcp", interval="100ms", fall=1, rise=1)
    keys = ["u%d" % i for i in range(60)]
    before = spread(lb.addr, keys, make_fields=lambda k: [("X-User", k)], repeat=1)
    es[2].kill()
    wait_state(lb.admin, "c", "down")
    after = spread(lb.addr, keys, make_fields=lambda k: [("X-User", k)], repeat=1)
    for k in keys:
        if before[k] != "c":
            assert after[k] == before[k], k
        else:
            assert after[k] in ("a", "b")


def test_hash_from_a_pool_in_a_config_file(start_echo, start_lb, tmp_conf):
    es = names(start_echo, "a", "b", "c")
    listen, admin = free_addr(), free_addr()
    path = tmp_conf("[global]\nthreads = 1\nadmin = %s\naccess-log = off\n" % admin +
                    "[pool web]\nbalance = hash\nhash-key = header:X-Tenant\nhealth-check = none\n" +
                    "".join("server = %s,name=%s\n" % (e.addr, e.name) for e in es) +
                    "[listen front]\nbind = %s\npool = web\n" % listen)
    start_lb(["-c", path], listen=listen, admin=admin)
    where = spread(listen, ["t%d" % i for i in range(40)],
                   make_fields=lambda k: [("X-Tenant", k)])
    assert set(where.values()) == {"a", "b", "c"}


def test_hash_with_bounded_loads_still_serves(start_echo, http_lb):
    es = names(start_echo, "a", "b", "c")
    lb = http_lb(es, balance="hash", extra=["--hash-key", "uri", "--hash-balance-factor", "125"])
    where = spread(lb.addr, ["/u%d" % i for i in range(30)], make_target=lambda t: t)
    assert set(where.values()) <= {"a", "b", "c"}
