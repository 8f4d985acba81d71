"""The command line: subcommands, help, and every usage or config error
(one line on stderr naming the flag or FILE:LINE, exit 2, nothing started)."""

import pytest

from conftest import free_addr, port_is_free, run_strata


# ------------------------------------------------------------ commands ---

def test_version():
    r = run_strata(["version"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("strata ")
    version = r.stdout.split()[1]
    assert version.count(".") == 2 and all(p.isdigit() for p in version.split("."))
    assert run_strata(["--version"]).stdout == r.stdout


@pytest.mark.parametrize("args", [["help"], ["--help"], ["-h"]])
def test_help_lists_commands(args):
    r = run_strata(args)
    assert r.returncode == 0, r.stderr
    for cmd in ("lb", "echo", "version", "help"):
        assert "  %s " % cmd in r.stdout


def test_no_command_is_a_usage_error():
    r = run_strata([])
    assert r.returncode == 2
    assert "usage" in r.stdout


def test_unknown_command():
    r = run_strata(["frobnicate"])
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.splitlines() == ["strata: unknown command 'frobnicate' (see strata help)"]


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_lb_help(flag):
    r = run_strata(["lb", flag])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: strata lb")
    for opt in ("--mode", "--listen", "--server", "--balance", "--admin", "--threads",
                "--health-check", "--health-interval", "--rise", "--fall",
                "--connect-timeout", "--idle-timeout", "--max-conns", "--retries",
                "--grace", "--log-level", "--log-format", "--config"):
        assert opt in r.stdout, opt
    for algo in ("roundrobin", "leastconn", "source", "leasttime", "random2"):
        assert algo in r.stdout


def test_echo_help():
    r = run_strata(["echo", "--help"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: strata echo")
    for opt in ("--listen", "--name", "--threads"):
        assert opt in r.stdout


# ------------------------------------------------------------- lb flags ---

def _assert_usage_error(r, *needles):
    lines = r.stderr.splitlines()
    assert r.returncode == 2, "exit %d, stderr %r" % (r.returncode, r.stderr)
    assert len(lines) == 1, "expected one line, got %r" % r.stderr
    assert lines[0].startswith("strata lb: "), lines[0]
    for n in needles:
        assert n in lines[0], "%r not in %r" % (n, lines[0])
    assert r.stdout == ""
    return lines[0]


# (extra args replacing/adding to a valid quick start, needles in the message)
# {L} is the listen address, {S} a server address, {A} the admin address.
BAD_FLAGS = [
    (["--bogus"], ["unknown option", "--bogus"]),
    (["-x"], ["unknown option", "-x"]),
    (["positional"], ["unexpected argument", "positional"]),
    (["--server"], ["--server", "needs a value"]),
    (["--balance"], ["--balance", "needs a value"]),
    (["--health-interval"], ["--health-interval", "needs a value"]),
    (["--listen", "127.0.0.1"], ["--listen", "'127.0.0.1'"]),
    (["--listen", "127.0.0.1:0"], ["--listen", "127.0.0.1:0"]),
    (["--listen", "127.0.0.1:65536"], ["--listen", "65536"]),
    (["--listen", "127.0.0.1:abc"], ["--listen", "abc"]),
    (["--listen", "1.2.3:80"], ["--listen", "1.2.3:80"]),
    (["--listen", "300.1.1.1:80"], ["--listen", "300.1.1.1:80"]),
    (["--server", "127.0.0.1:0"], ["--server", "127.0.0.1:0"]),
    (["--server", "127.0.0.1:65536"], ["--server", "65536"]),
    (["--server", "127.0.0.1:abc"], ["--server", "abc"]),
    (["--server", "::1:80"], ["--server", "::1:80"]),
    (["--server", ":80"], ["--server"]),
    (["--server", "{S},weight=0"], ["--server", "weight"]),
    (["--server", "{S},weight=257"], ["--server", "weight"]),
    (["--server", "{S},weight=x"], ["--server", "weight"]),
    (["--server", "{S},weight="], ["--server", "weight"]),
    (["--server", "{S},color=red"], ["--server", "unknown option 'color=red'"]),
    (["--server", "{S},name=a/b"], ["--server", "name"]),
    (["--server", "{S},name=a", "--server", "{S2},name=a"], ["'a'", "twice"]),
    (["--balance", "fastest"], ["--balance", "'fastest'"]),
    (["--balance", "RoundRobin"], ["--balance", "'RoundRobin'"]),
    (["--health-check", "icmp"], ["--health-check", "'icmp'"]),
    (["--health-check", "http"], ["--health-check", "'http'"]),
    (["--health-check", "http:health"], ["--health-check", "'http:health'"]),
    (["--health-check", "http:/a b"], ["--health-check"]),
    (["--health-interval", "5x"], ["--health-interval", "'5x'"]),
    (["--health-interval", "0"], ["--health-interval", "'0'"]),
    (["--health-interval", "1.5s"], ["--health-interval", "'1.5s'"]),
    (["--health-interval", "2h"], ["--health-interval", "'2h'"]),
    (["--connect-timeout", "-1"], ["--connect-timeout", "'-1'"]),
    (["--idle-timeout", "abc"], ["--idle-timeout", "'abc'"]),
    (["--idle-timeout", "10 s"], ["--idle-timeout"]),
    (["--grace", "1h"], ["--grace", "'1h'"]),
    (["--grace", "ms"], ["--grace", "'ms'"]),
    (["--threads", "0"], ["--threads", "'0'"]),
    (["--threads", "257"], ["--threads", "'257'"]),
    (["--threads", "two"], ["--threads", "'two'"]),
    (["--rise", "0"], ["--rise", "'0'"]),
    (["--fall", "101"], ["--fall", "'101'"]),
    (["--retries", "11"], ["--retries", "'11'"]),
    (["--retries", "-1"], ["--retries", "'-1'"]),
    (["--max-conns", "0"], ["--max-conns", "'0'"]),
    (["--cookie", "a b"], ["--cookie", "'a b'"]),
    (["--hash-key", "body"], ["--hash-key", "'body'"]),
    (["--max-body-size", "lots"], ["--max-body-size", "'lots'"]),
    (["--tls", "{L}"], ["tls"]),
    (["--mode", "udp"], ["--mode", "'udp'"]),
    (["--log-level", "verbose"], ["--log-level", "'verbose'"]),
    (["--log-format", "xml"], ["--log-format", "'xml'"]),
    (["--admin", "127.0.0.1:0"], ["--admin", "127.0.0.1:0"]),
    (["--admin", "nowhere"], ["--admin", "'nowhere'"]),
]


@pytest.mark.parametrize("extra,needles", BAD_FLAGS,
                         ids=["%d:%s" % (i, " ".join(c[0])) for i, c in enumerate(BAD_FLAGS)])
def test_bad_flag_one_line_exit_2_nothing_started(extra, needles):
    listen, server, server2, admin = free_addr(), free_addr(), free_addr(), free_addr()
    subst = {"{L}": listen, "{S}": server, "{S2}": server2, "{A}": admin}

    def fill(s):
        for k, v in subst.items():
            s = s.replace(k, v)
        return s

    extra = [fill(a) for a in extra]
    args = ["lb", "--admin", admin, "--mode", "tcp", "--listen", listen, "--server", server]
    # A flag given twice takes the last value, so a bad --listen/--admin/--mode
    # after the good one is the one in force; flags needing a value go last.
    r = run_strata(args + extra)
    _assert_usage_error(r, *[fill(n) for n in needles])
    assert port_is_free(listen)
    assert port_is_free(admin)


@pytest.mark.parametrize("args,needles", [
    ([], ["--listen"]),
    (["--mode", "tcp", "--server", "{S}"], ["--listen"]),
    (["--mode", "tcp", "--listen", "{L}"], ["--server"]),
])
def test_missing_required_flags(args, needles):
    listen, server = free_addr(), free_addr()
    args = [a.replace("{L}", listen).replace("{S}", server) for a in args]
    r = run_strata(["lb"] + args)
    _assert_usage_error(r, *needles)
    assert port_is_free(listen)


def test_config_cannot_be_combined_with_server(tmp_conf):
    listen, server = free_addr(), free_addr()
    path = tmp_conf("[pool p]\nserver = %s\n[listen l]\nmode = tcp\nbind = %s\npool = p\n" % (server, listen))
    r = run_strata(["lb", "-c", path, "--server", free_addr()])
    _assert_usage_error(r, "-c", "--server")
    assert port_is_free(listen)
    r = run_strata(["lb", "--listen", free_addr(), "-c", path])
    _assert_usage_error(r, "-c", "--listen")
    assert port_is_free(listen)


def test_config_with_bad_global_flag(tmp_conf):
    listen, server = free_addr(), free_addr()
    path = tmp_conf("[pool p]\nserver = %s\n[listen l]\nmode = tcp\nbind = %s\npool = p\n" % (server, listen))
    r = run_strata(["lb", "-c", path, "--threads", "0"])
    _assert_usage_error(r, "--threads", "'0'")
    assert port_is_free(listen)


def test_listen_port_in_use_fails_without_running(procs):
    """A listener that cannot bind is a start-up failure (exit != 0), not a hang."""
    import socket
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        listen = "127.0.0.1:%d" % s.getsockname()[1]
        r = run_strata(["lb", "--mode", "tcp", "--listen", listen, "--server", free_addr()])
        assert r.returncode != 0
        assert listen in r.stderr
    finally:
        s.close()


# ---------------------------------------------------------- echo flags ---

@pytest.mark.parametrize("args,needle", [
    ([], "--listen"),
    (["--listen", "127.0.0.1"], "--listen"),
    (["--listen", "{L}", "--threads", "0"], "--threads"),
    (["--listen", "{L}", "--bogus"], "--bogus"),
    (["--listen", "{L}", "--name"], "--name"),
    (["--listen", "{L}", "extra"], "extra"),
])
def test_echo_bad_flags(args, needle):
    listen = free_addr()
    args = [a.replace("{L}", listen) for a in args]
    r = run_strata(["echo"] + args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("strata echo: ") and needle in lines[0], r.stderr
    assert port_is_free(listen)


# --------------------------------------------------------- config files ---

def _conf(listen, server, body_pool="", body_listen="", extra=""):
    return ("[global]\nthreads = 1\n"
            "[pool web]\nserver = %s\n%s"
            "[listen front]\nmode = tcp\nbind = %s\npool = web\n%s%s") % (server, body_pool, listen,
                                                            body_listen, extra)


# Each case: a function (listen, server) -> (file text, expected line or None,
# needles). Expected line None: a whole-file check, reported as "FILE: ...".
BAD_FILES = {
    "unknown section": lambda L, S: (
        "[global]\nthreads = 1\n[pools web]\nserver = %s\n" % S, 3, ["[pools web]"]),
    "section with two names": lambda L, S: (
        "[pool web extra]\nserver = %s\n" % S, 1, ["[pool web extra]"]),
    "section with a bad name": lambda L, S: (
        "[pool we/b]\nserver = %s\n" % S, 1, ["we/b"]),
    "unknown key in pool": lambda L, S: (
        _conf(L, S, body_pool="colour = blue\n"), 5, ["colour", "[pool web]"]),
    "unknown key in global": lambda L, S: (
        "[global]\nthreads = 1\nworkers = 4\n" + _conf(L, S)[len("[global]\nthreads = 1\n"):],
        3, ["workers", "[global]"]),
    "unknown key in listen": lambda L, S: (
        _conf(L, S, body_listen="backlog = 5\n"), 9, ["backlog", "[listen front]"]),
    "key outside section": lambda L, S: (
        "threads = 2\n" + _conf(L, S), 1, ["threads", "outside"]),
    "line without equals": lambda L, S: (
        _conf(L, S, body_pool="balance roundrobin\n"), 5, ["syntax error"]),
    "missing value": lambda L, S: (
        _conf(L, S, body_pool="balance =\n"), 5, ["balance", "missing value"]),
    "bad weight": lambda L, S: (
        _conf(L, S, body_pool="server = %s,weight=0\n" % free_addr()), 5, ["server", "weight"]),
    "bad weight 257": lambda L, S: (
        _conf(L, S, body_pool="server = %s,weight=257\n" % free_addr()), 5, ["server", "weight"]),
    "bad server port": lambda L, S: (
        _conf(L, S, body_pool="server = 127.0.0.1:65536\n"), 5, ["server", "127.0.0.1:65536"]),
    "bad balance": lambda L, S: (
        _conf(L, S, body_pool="balance = fastest\n"), 5, ["balance", "'fastest'"]),
    "bad health-check": lambda L, S: (
        _conf(L, S, body_pool="health-check = icmp\n"), 5, ["health-check", "'icmp'"]),
    "bad duration": lambda L, S: (
        _conf(L, S, body_pool="health-interval = 1h\n"), 5, ["health-interval", "'1h'"]),
    "bad rise": lambda L, S: (
        _conf(L, S, body_pool="rise = 0\n"), 5, ["rise", "'0'"]),
    "bad retries": lambda L, S: (
        _conf(L, S, body_pool="retries = 11\n"), 5, ["retries", "'11'"]),
    "bad bind": lambda L, S: (
        _conf("127.0.0.1:0", S), 7, ["bind", "127.0.0.1:0"]),
    "bad max-conns": lambda L, S: (
        _conf(L, S, body_listen="max-conns = 0\n"), 9, ["max-conns", "'0'"]),
    "bad idle-timeout": lambda L, S: (
        _conf(L, S, body_listen="idle-timeout = soon\n"), 9, ["idle-timeout", "'soon'"]),
    "route in tcp mode": lambda L, S: (
        _conf(L, S, body_listen="route = prefix /api/ -> web\n"), None,
        ["front", "routes need mode http"]),
    "bad route": lambda L, S: (
        _conf(L, S, body_listen="route = prefix api -> web\n"), 9, ["route", "must start with /"]),
    "mode udp": lambda L, S: (
        _conf(L, S, body_listen="mode = udp\n"), 9, ["mode", "'udp'"]),
    "bad threads": lambda L, S: (
        "[global]\nthreads = 0\n" + _conf(L, S)[len("[global]\nthreads = 1\n"):],
        2, ["threads", "'0'"]),
    "bad log-level": lambda L, S: (
        "[global]\nlog-level = loud\n" + _conf(L, S)[len("[global]\nthreads = 1\n"):],
        2, ["log-level", "'loud'"]),
    "bad admin": lambda L, S: (
        "[global]\nadmin = 127.0.0.1\n" + _conf(L, S)[len("[global]\nthreads = 1\n"):],
        2, ["admin", "'127.0.0.1'"]),
    "duplicate pool": lambda L, S: (
        _conf(L, S, extra="[pool web]\nserver = %s\n" % S), 9, ["web", "twice"]),
    "duplicate listener": lambda L, S: (
        _conf(L, S, extra="[listen front]\nmode = tcp\nbind = %s\npool = web\n" % free_addr()),
        9, ["front", "twice"]),
    "listener with unknown pool": lambda L, S: (
        "[pool web]\nserver = %s\n[listen front]\nmode = tcp\nbind = %s\npool = api\n" % (S, L),
        None, ["front", "unknown pool"]),
    "listener without pool": lambda L, S: (
        "[pool web]\nserver = %s\n[listen front]\nmode = tcp\nbind = %s\n" % (S, L),
        None, ["front", "pool"]),
    "listener without bind": lambda L, S: (
        "[pool web]\nserver = %s\n[listen front]\nmode = tcp\npool = web\n" % S,
        None, ["front", "bind"]),
    "pool without server": lambda L, S: (
        _conf(L, S, extra="[pool api]\nbalance = leastconn\n"), None, ["api", "no server"]),
    "no listener": lambda L, S: (
        "[pool web]\nserver = %s\n" % S, None, ["no listener"]),
    "same server name twice": lambda L, S: (
        _conf(L, S, body_pool="server = %s\n" % S), None, ["web", S, "twice"]),
    "two listeners on one address": lambda L, S: (
        _conf(L, S, extra="[listen back]\nmode = tcp\nbind = %s\npool = web\n" % L),
        None, ["front", "back", "same address"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_config_file(case, tmp_conf):
    listen, server = free_addr(), free_addr()
    text, line, needles = BAD_FILES[case](listen, server)
    path = tmp_conf(text)
    r = run_strata(["lb", "-c", path])
    msg = _assert_usage_error(r, *needles)
    if line is not None:
        assert msg.startswith("strata lb: %s:%d: " % (path, line)), msg
    else:
        assert msg.startswith("strata lb: %s:" % path), msg
    assert port_is_free(listen)


def test_config_colon_separator_line_names_its_line(tmp_conf):
    """inih also takes ':' as a separator, so `server 127.0.0.1:80` is the key
    'server 127.0.0.1': still one line with FILE:LINE and exit 2."""
    listen, server = free_addr(), free_addr()
    path = tmp_conf(_conf(listen, server, body_pool="server %s\n" % free_addr()))
    r = run_strata(["lb", "-c", path])
    msg = _assert_usage_error(r)
    assert msg.startswith("strata lb: %s:5: " % path), msg
    assert port_is_free(listen)


def test_missing_config_file(tmp_path):
    path = tmp_path / "nope.ini"
    r = run_strata(["lb", "-c", path])
    _assert_usage_error(r, str(path), "cannot open")


def test_config_file_error_does_not_bind_admin(tmp_conf):
    listen, server, admin = free_addr(), free_addr(), free_addr()
    body = _conf(listen, server, body_pool="rise = lots\n")[len("[global]\nthreads = 1\n"):]
    path = tmp_conf("[global]\nadmin = %s\n" % admin + body)
    r = run_strata(["lb", "-c", path])
    _assert_usage_error(r, "%s:5:" % path, "rise")
    assert port_is_free(listen) and port_is_free(admin)


# ------------------------------------------------- long config lines ---

# libinih reads at most 198 characters of a line: a longer comment is fine, a longer
# setting is refused with its line number (it used to be split in two, which shifted
# every later line number).


def test_long_comment_line_is_accepted(tmp_conf, start_lb):
    listen, server = free_addr(), free_addr()
    path = tmp_conf("[global]\nthreads = 1\n; " + "a long comment " * 20 + "\n" +
                    "[pool web]\nserver = %s\n[listen front]\nmode = tcp\nbind = %s\npool = web\n"
                    % (server, listen))
    lb = start_lb(["-c", path])
    assert lb.proc.alive()


def test_error_line_number_after_a_long_line(tmp_conf):
    listen, server = free_addr(), free_addr()
    path = tmp_conf("[global]\nthreads = 1\n; " + "x" * 300 + "\n"      # line 3: 303 bytes
                    "[pool web]\nserver = %s\n[listen front]\nmode = tcp\nbind = %s\npool = web\n"
                    "colour = blue\n" % (server, listen))               # line 10
    r = run_strata(["lb", "-c", path])
    msg = _assert_usage_error(r, "colour")
    assert msg.startswith("strata lb: %s:10: " % path), msg


def test_long_health_check_path_flag(start_lb, py_server):
    """--health-check takes a path of up to 255 bytes; the check sends all of it."""
    from conftest import read_http_request, wait_until
    seen = []

    def handler(conn):
        seen.append(read_http_request(conn))
    srv = py_server(handler)
    path = "/" + "p" * 219 + "/end"
    listen = free_addr()
    start_lb(["--mode", "tcp", "--listen", listen, "--server", srv.addr,
              "--health-check", "http:" + path, "--health-interval", "100ms"])
    wait_until(lambda: seen, 5, "a health check")
    assert seen[0].startswith("GET %s HTTP/1.1\r\n" % path), seen[0][:300]


def test_overlong_setting_line_is_refused_with_its_line(tmp_conf):
    """A setting longer than libinih's line buffer is an error naming the line,
    never a setting cut in two."""
    listen, server = free_addr(), free_addr()
    path_ = "/" + "p" * 219 + "/end"
    conf = tmp_conf("[global]\nthreads = 1\n[pool web]\nserver = %s\nhealth-check = http:%s\n"
                    "health-interval = 100ms\n[listen front]\nmode = tcp\nbind = %s\npool = web\n"
                    % (server, path_, listen))
    r = run_strata(["lb", "-c", conf])
    msg = _assert_usage_error(r, "line longer than 198 characters")
    assert msg.startswith("strata lb: %s:5: " % conf), msg
