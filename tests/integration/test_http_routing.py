"""http mode: routing (host, path, prefix, method, header conditions; order;
default pool), the shipped example config, http config keys, and the
command-line and config errors of the http mode (one line, exit 2)."""

import re

import pytest

from conftest import REPO, HttpClient, build_request, free_addr, port_is_free, run_strata

POOLS = ("web", "api", "images", "debug", "other", "canary", "both")

ROUTES = """\
route = prefix /api/ -> api
route = host static.example.com -> images
route = method POST header X-Debug=1 -> debug
route = path /exact -> other
route = header X-Canary -> canary
route = prefix /images/ -> images
route = method PUT prefix /both/ header X-A=1 host both.example -> both
"""


def routing_conf(listen, admin, names):
    """One pool per name in POOLS, each with one echo server named after it."""
    text = "[global]\nthreads = 1\nadmin = %s\naccess-log = off\n" % admin
    for pool in POOLS:
        text += "[pool %s]\nserver = %s,name=%s\nhealth-check = none\n" % (pool, names[pool], pool)
    text += "[listen front]\nbind = %s\nmode = http\npool = web\n" % listen + ROUTES
    return text


@pytest.fixture
def routed(start_echo, start_lb, tmp_conf):
    echoes = {p: start_echo(p) for p in POOLS}
    listen, admin = free_addr(), free_addr()
    path = tmp_conf(routing_conf(listen, admin, {p: e.addr for p, e in echoes.items()}))
    lb = start_lb(["-c", path], listen=listen, admin=admin)
    return lb


# (method, target, extra fields, Host, expected pool)
CASES = [
    ("GET", "/", [], "strata-test", "web"),
    ("GET", "/api/users", [], "strata-test", "api"),
    ("GET", "/api/", [], "strata-test", "api"),
    ("GET", "/api", [], "strata-test", "web"),          # prefix /api/ needs the slash
    ("GET", "/apiary", [], "strata-test", "web"),
    ("GET", "/API/users", [], "strata-test", "web"),    # paths are case-sensitive
    ("POST", "/api/users", [("X-Debug", "1")], "strata-test", "api"),   # first match wins
    ("GET", "/x", [], "static.example.com", "images"),
    ("GET", "/x", [], "STATIC.Example.COM", "images"),  # host: case-insensitive
    ("GET", "/x", [], "static.example.com:8080", "images"),  # host: port ignored
    ("GET", "/x", [], "static.example.com.evil", "web"),
    ("GET", "/x", [], "xstatic.example.com", "web"),
    ("GET", "/api/x", [], "static.example.com", "api"),  # order: prefix /api/ first
    ("POST", "/x", [("X-Debug", "1")], "strata-test", "debug"),
    ("GET", "/x", [("X-Debug", "1")], "strata-test", "web"),    # method must hold too
    ("POST", "/x", [("X-Debug", "2")], "strata-test", "web"),   # exact value
    ("POST", "/x", [("X-Debug", "10")], "strata-test", "web"),
    ("POST", "/x", [], "strata-test", "web"),
    ("POST", "/x", [("x-debug", "1")], "strata-test", "debug"),  # field names: any case
    ("GET", "/exact", [], "strata-test", "other"),
    ("GET", "/exact?q=1", [], "strata-test", "other"),  # query ignored
    ("GET", "/exact/", [], "strata-test", "web"),
    ("GET", "/exactly", [], "strata-test", "web"),
    ("GET", "/x", [("X-Canary", "yes")], "strata-test", "canary"),
    ("GET", "/x", [("X-Canary", "")], "strata-test", "canary"),  # present, even empty
    ("GET", "/exact", [("X-Canary", "1")], "strata-test", "other"),  # order
    ("GET", "/images/cat.png", [], "strata-test", "images"),
    ("GET", "/images/cat.png", [("X-Canary", "1")], "strata-test", "canary"),  # order
    ("PUT", "/both/x", [("X-A", "1")], "both.example", "both"),
    ("PUT", "/both/x", [("X-A", "1")], "both.example:81", "both"),
    ("GET", "/both/x", [("X-A", "1")], "both.example", "web"),
    ("PUT", "/both/x", [("X-A", "2")], "both.example", "web"),
    ("PUT", "/both/x", [], "both.example", "web"),
    ("PUT", "/both/x", [("X-A", "1")], "other.example", "web"),
    ("PUT", "/other/x", [("X-A", "1")], "both.example", "web"),
]


def test_routes(routed):
    got, want = [], []
    with HttpClient(routed.addr) as c:
        for method, target, fields, host, pool in CASES:
            body = b"" if method in ("POST", "PUT") else None
            r = c.request(method, target, fields=fields, host=host, body=body)
            assert r.status == 200, (method, target, r)
            got.append((method, target, fields, host, r.text().strip()))
            want.append((method, target, fields, host, pool))
    assert got == want


def test_routes_with_absolute_form_target(routed):
    """The path of an absolute-form target routes (its authority equals Host)."""
    with HttpClient(routed.addr) as c:
        c.send(b"GET http://strata-test/api/v1 HTTP/1.1\r\nHost: strata-test\r\n\r\n")
        assert c.response().body == b"api\n"
        c.send(b"GET http://static.example.com/x HTTP/1.1\r\nHost: static.example.com\r\n\r\n")
        assert c.response().body == b"images\n"


def test_each_request_of_a_connection_is_routed(routed):
    """Routing is per request, not per connection (also when pipelined)."""
    with HttpClient(routed.addr) as c:
        c.send(build_request("GET", "/api/1") + build_request("GET", "/") +
               build_request("GET", "/exact") + build_request("GET", "/api/2"))
        assert [c.response().body for _ in range(4)] == [b"api\n", b"web\n", b"other\n", b"api\n"]


def test_routed_pools_counted_separately(routed):
    with HttpClient(routed.addr) as c:
        for _ in range(3):
            assert c.request("GET", "/api/x").body == b"api\n"
        assert c.request("GET", "/").body == b"web\n"
    st = {p["name"]: p for p in routed.stats()["pools"]}
    assert st["api"]["servers"][0].get("requests") == 3
    assert st["web"]["servers"][0].get("requests") == 1


# ------------------------------------------------------ shipped example ---

EXAMPLE = REPO / "examples" / "lb-http.ini"


def parse_route(line):
    conds, _, pool = line.partition("->")
    toks = conds.split()
    out = []
    for i in range(0, len(toks), 2):
        out.append((toks[i], toks[i + 1]))
    return out, pool.strip()


def request_for(conds):
    method, target, host, fields = "GET", "/", "strata-test", []
    for kind, arg in conds:
        if kind == "prefix":
            target = arg.rstrip("/") + "/some/thing" if arg.endswith("/") else arg + "thing"
        elif kind == "path":
            target = arg
        elif kind == "host":
            host = arg
        elif kind == "method":
            method = arg
        elif kind == "header":
            name, _, value = arg.partition("=")
            fields.append((name, value or "1"))
    return method, target, host, fields


@pytest.mark.skipif(not EXAMPLE.exists(), reason="examples/lb-http.ini not present")
def test_example_config_routes(start_echo, start_lb, tmp_path):
    text = EXAMPLE.read_text()
    # every address of the example moved to a free port
    mapping = {}

    def move(m):
        return mapping.setdefault(m.group(0), free_addr())
    text = re.sub(r"127\.0\.0\.1:\d+", move, text)
    # the servers of each pool, started as echo servers named as in the file
    pools, pool, routes, default = {}, None, [], None
    for raw in text.splitlines():
        line = raw.split(";")[0].strip()
        m = re.match(r"\[pool (\S+)\]", line)
        if m:
            pool = m.group(1)
            pools[pool] = []
            continue
        if line.startswith("["):
            pool = None
        key, _, value = (p.strip() for p in line.partition("="))
        if key == "server" and pool:
            addr = value.split(",")[0]
            name = re.search(r"name=([^,]+)", value)
            pools[pool].append(name.group(1) if name else addr)
            start_echo(pools[pool][-1], addr=addr)
        elif key == "route":
            routes.append(parse_route(value))
        elif key == "pool" and pool is None:
            default = value
    listen = re.search(r"bind\s*=\s*(\S+)", text).group(1)
    admin = re.search(r"admin\s*=\s*(\S+)", text).group(1)
    path = tmp_path / "lb-http.ini"
    path.write_text(text)
    lb = start_lb(["-c", path], listen=listen, admin=admin)
    assert routes, "the example has no route"
    with HttpClient(listen) as c:
        for conds, want in routes:
            method, target, host, fields = request_for(conds)
            r = c.request(method, target, fields=fields, host=host,
                          body=b"" if method in ("POST", "PUT", "PATCH") else None)
            assert r.status == 200, r
            assert r.text().strip() in pools[want], (conds, want, r)
        r = c.request("GET", "/no/route/matches/this")
        assert r.text().strip() in pools[default]
    # the example's web pool is sticky by cookie SRV, as its comments say
    if "cookie = SRV" in text:
        with HttpClient(listen) as c:
            r = c.request("GET", "/")
            name = r.text().strip()
            assert r.get("Set-Cookie") == "SRV=%s; Path=/" % name
            for _ in range(4):
                r = c.request("GET", "/", fields=[("Cookie", "SRV=%s" % name)])
                assert r.text().strip() == name and not r.has("Set-Cookie")
    assert lb.proc.alive()


# ----------------------------------------------------- config keys work ---

def test_http_listener_keys_in_config(http_backend, start_lb, tmp_conf):
    be = http_backend("rec")
    listen, admin = free_addr(), free_addr()
    path = tmp_conf("[global]\nthreads = 1\nadmin = %s\naccess-log = off\n"
                    "[pool web]\nserver = %s,name=rec\nhealth-check = none\n"
                    "[listen front]\nbind = %s\npool = web\n"  # mode: http by default
                    "max-header-size = 2k\nmax-body-size = 100\n" % (admin, be.addr, listen))
    start_lb(["-c", path], listen=listen, admin=admin)
    from conftest import assert_error_response, exchange_raw
    rs, _, _ = exchange_raw(listen, build_request(fields=[("X-Big", "b" * 3000)]))
    assert_error_response(rs[0], 431)
    rs, _, _ = exchange_raw(listen, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n")
    assert_error_response(rs[0], 413)
    with HttpClient(listen) as c:
        assert c.request("POST", "/", body=b"x" * 100).body == b"rec\n"


def test_mode_http_is_the_default_on_the_command_line(http_backend, start_lb):
    be = http_backend("rec")
    listen = free_addr()
    start_lb(["--listen", listen, "--server", be.addr + ",name=rec", "--health-check", "none"])
    with HttpClient(listen) as c:
        assert c.request().body == b"rec\n"
    assert be.requests[0].get("Via") == "1.1 strata"  # parsed and forwarded, not tunnelled


# ------------------------------------------------------------- errors ---

def assert_usage_error(r, *needles):
    lines = r.stderr.splitlines()
    assert r.returncode == 2, "exit %d, stderr %r" % (r.returncode, r.stderr)
    assert len(lines) == 1, "expected one line, got %r" % r.stderr
    assert lines[0].startswith("strata lb: "), lines[0]
    for n in needles:
        assert n in lines[0], "%r not in %r" % (n, lines[0])
    assert r.stdout == ""
    return lines[0]


BAD_HTTP_FLAGS = [
    (["--cookie", ""], ["--cookie"]),
    (["--cookie", "a b"], ["--cookie"]),
    (["--cookie", "a;b"], ["--cookie"]),
    (["--cookie", "a=b"], ["--cookie"]),
    (["--cookie", "a,b"], ["--cookie"]),
    (["--cookie"], ["--cookie", "needs a value"]),
    (["--balance", "hash", "--hash-key", "bogus"], ["--hash-key", "'bogus'"]),
    (["--balance", "hash", "--hash-key", "header:"], ["--hash-key"]),
    (["--balance", "hash", "--hash-key", "cookie:"], ["--hash-key"]),
    (["--balance", "hash", "--hash-key", "header:a b"], ["--hash-key"]),
    (["--balance", "hash", "--hash-key", ""], ["--hash-key"]),
    (["--balance", "hash", "--hash-key", "URI"], ["--hash-key"]),
    (["--hash-key"], ["--hash-key", "needs a value"]),
    (["--header-timeout", "abc"], ["--header-timeout", "'abc'"]),
    (["--header-timeout", "0"], ["--header-timeout"]),
    (["--keepalive-timeout", "1h"], ["--keepalive-timeout"]),
    (["--response-timeout", "-1"], ["--response-timeout"]),
    (["--max-header-size", "12q"], ["--max-header-size", "'12q'"]),
    (["--max-header-size", "0"], ["--max-header-size"]),
    (["--max-body-size", "lots"], ["--max-body-size", "'lots'"]),
    (["--server-keepalive", "-1"], ["--server-keepalive"]),
    (["--server-keepalive", "x"], ["--server-keepalive"]),
    (["--server-keepalive-timeout", "soon"], ["--server-keepalive-timeout"]),
    (["--access-log"], ["--access-log", "needs a value"]),
    (["--health-status", "99"], ["--health-status"]),
    (["--health-status", "600"], ["--health-status"]),
    (["--health-status", "ok"], ["--health-status"]),
]


@pytest.mark.parametrize("extra,needles", BAD_HTTP_FLAGS,
                         ids=["%d:%s" % (i, " ".join(c[0])) for i, c in enumerate(BAD_HTTP_FLAGS)])
def test_bad_http_flag(extra, needles, tmp_path):
    (tmp_path / "notacert.pem").write_text("hello\n")
    listen, server, admin = free_addr(), free_addr(), free_addr()
    extra = [a.replace("{TMP}", str(tmp_path)) for a in extra]
    r = run_strata(["lb", "--admin", admin, "--mode", "http", "--listen", listen,
                    "--server", server] + extra)
    assert_usage_error(r, *needles)
    assert port_is_free(listen) and port_is_free(admin)


@pytest.mark.parametrize("name", ["missing.pem", "notacert.pem"])
def test_unusable_certificate_fails_the_start(name, tmp_path):
    """Not a usage error, a start-up failure (like a port in use): exit != 0,
    one line naming the file, nothing listening."""
    (tmp_path / "notacert.pem").write_text("hello\n")
    listen, server, admin = free_addr(), free_addr(), free_addr()
    r = run_strata(["lb", "--admin", admin, "--listen", listen, "--server", server,
                    "--tls", str(tmp_path / name)])
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and str(tmp_path / name) in lines[0], r.stderr
    assert port_is_free(listen) and port_is_free(admin)


def _conf(listen, server, pool_extra="", listen_extra=""):
    return ("[global]\nthreads = 1\n"                             # 1, 2
            "[pool web]\nserver = %s\n%s"                          # 3, 4, (5)
            "[pool api]\nserver = %s\n"
            "[listen front]\nmode = http\nbind = %s\npool = web\n%s") % (
                server, pool_extra, server, listen, listen_extra)


# (listen extra lines, needles): the bad line is the first of listen_extra (line 11)
BAD_ROUTES = [
    ("route = prefix /api/\n", ["route"]),
    ("route = prefix /api/ -> nosuch\n", ["nosuch"]),  # FILE: or FILE:LINE:
    ("route = bogus /x -> api\n", ["bogus"]),
    ("route = -> api\n", ["route"]),
    ("route = prefix -> api\n", ["prefix"]),
    ("route = prefix api/ -> api\n", ["api/"]),
    ("route = path -> api\n", ["path"]),
    ("route = method -> api\n", ["method"]),
    ("route = host -> api\n", ["host"]),
    ("route = header -> api\n", ["header"]),
    ("route = prefix /a/ -> api web\n", ["route"]),
    ("route = prefix /a/ ->\n", ["route"]),
    ("route = prefix /a/ method GET host a header X path /b -> api\n", ["route"]),  # 5 conditions
]


@pytest.mark.parametrize("line,needles", BAD_ROUTES, ids=[c[0].strip() for c in BAD_ROUTES])
def test_bad_route_line(line, needles, tmp_conf):
    listen, server = free_addr(), free_addr()
    path = tmp_conf(_conf(listen, server, listen_extra="route = prefix /ok/ -> api\n" + line))
    r = run_strata(["lb", "-c", path])
    msg = assert_usage_error(r, *needles)
    if "nosuch" in line:  # a whole-file check, like a listener's unknown pool
        assert msg.startswith("strata lb: %s:" % path), msg
    else:
        assert msg.startswith("strata lb: %s:12: " % path), msg
    assert port_is_free(listen)


BAD_HTTP_KEYS = [
    ("pool", "cookie = a;b\n", ["cookie"]),
    ("pool", "balance = hash\nhash-key = nope\n", ["hash-key", "nope"]),
    ("pool", "response-timeout = never\n", ["response-timeout", "never"]),
    ("pool", "server-keepalive = many\n", ["server-keepalive", "many"]),
    ("pool", "health-status = 1000\n", ["health-status"]),
    ("listen", "header-timeout = 1h\n", ["header-timeout"]),
    ("listen", "max-header-size = 2m\n", ["max-header-size"]),
    ("listen", "max-body-size = -1\n", ["max-body-size"]),
    ("listen", "keepalive-timeout = x\n", ["keepalive-timeout"]),
]


@pytest.mark.parametrize("where,line,needles", BAD_HTTP_KEYS,
                         ids=[c[1].strip().replace("\n", " ") for c in BAD_HTTP_KEYS])
def test_bad_http_config_key(where, line, needles, tmp_conf):
    listen, server = free_addr(), free_addr()
    if where == "pool":
        text = _conf(listen, server, pool_extra=line)
        lineno = 4 + line.count("\n")
    else:
        text = _conf(listen, server, listen_extra=line)
        lineno = 11
    path = tmp_conf(text)
    r = run_strata(["lb", "-c", path])
    msg = assert_usage_error(r, *needles)
    assert msg.startswith("strata lb: %s:%d: " % (path, lineno)), msg


def test_routes_on_a_tcp_listener_are_refused(tmp_conf):
    listen, server = free_addr(), free_addr()
    text = _conf(listen, server, listen_extra="route = prefix /a/ -> api\n").replace(
        "mode = http", "mode = tcp")
    path = tmp_conf(text)
    r = run_strata(["lb", "-c", path])
    msg = assert_usage_error(r, "route")
    assert msg.startswith("strata lb: %s:" % path), msg
