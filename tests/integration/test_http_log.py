"""http mode: the access log. One line per request on stdout by default, in
text (`CLIENT_IP:PORT "METHOD TARGET HTTP/1.x" STATUS BYTES POOL/SERVER
DURATIONms rid=REQUEST_ID`) or JSON; off, stderr, or a file."""

import json
import re

from conftest import (HttpClient, access_lines, build_request, exchange_raw, free_addr,
                      wait_until)

TEXT = re.compile(r'^(?P<ip>127\.0\.0\.1):(?P<port>\d+) "(?P<method>\S+) (?P<target>\S+) '
                  r'(?P<version>HTTP/1\.[01])" (?P<status>\d{3}) (?P<bytes>\d+) '
                  r'(?P<pool>\S+)/(?P<server>\S+) (?P<ms>\d+(\.\d+)?)ms rid=(?P<rid>\S+)$')

JSON_KEYS = {"client", "method", "target", "version", "status", "bytes", "pool", "server",
             "duration_ms", "request_id"}


def lb_with_log(http_backend, http_lb, extra=()):
    be = http_backend("rec")
    lb = http_lb([be], extra=list(extra))
    return be, lb


def wait_lines(proc, n, source=None):
    get = source or (lambda: access_lines(proc))
    return wait_until(lambda: len(get()) >= n and get(), what="%d access log lines" % n)


def test_text_access_log_line(http_backend, http_lb):
    be, lb = lb_with_log(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        r = c.request("GET", "/path/x?y=1&z=%20")
        port = c.local_port
    lines = wait_lines(lb.proc, 1)
    assert len(lines) == 1, lines
    m = TEXT.match(lines[0])
    assert m, lines[0]
    assert int(m["port"]) == port
    assert (m["method"], m["target"], m["version"], m["status"]) == \
        ("GET", "/path/x?y=1&z=%20", "HTTP/1.1", "200")
    assert (m["pool"], m["server"]) == ("default", "rec")
    assert int(m["bytes"]) == len(r.raw), (m["bytes"], len(r.raw))
    assert m["rid"] == be.requests[0].get("X-Request-Id")
    assert re.match(r"^[0-9a-f]{32}$", m["rid"])


def test_one_line_per_request_on_a_keepalive_connection(http_backend, http_lb):
    be, lb = lb_with_log(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        c.request("GET", "/1")
        c.request("POST", "/2", body=b"abc")
        c.request("HEAD", "/3")
        c.send(build_request("GET", "/4") + build_request("GET", "/5"))
        c.response()
        c.response()
    lines = wait_lines(lb.proc, 5)
    assert len(lines) == 5, lines
    got = [TEXT.match(l) for l in lines]
    assert all(got), lines
    assert [(m["method"], m["target"]) for m in got] == \
        [("GET", "/1"), ("POST", "/2"), ("HEAD", "/3"), ("GET", "/4"), ("GET", "/5")]
    assert len({m["port"] for m in got}) == 1
    assert [m["rid"] for m in got] == [q.get("X-Request-Id") for q in be.requests]


def test_client_request_id_is_logged(http_backend, http_lb):
    be, lb = lb_with_log(http_backend, http_lb)
    with HttpClient(lb.addr) as c:
        c.request(fields=[("X-Request-Id", "abc-123")])
    m = TEXT.match(wait_lines(lb.proc, 1)[0])
    assert m and m["rid"] == "abc-123"


def test_http10_version_logged(http_backend, http_lb):
    be, lb = lb_with_log(http_backend, http_lb)
    exchange_raw(lb.addr, b"GET /old HTTP/1.0\r\n\r\n")
    m = TEXT.match(wait_lines(lb.proc, 1)[0])
    assert m and m["version"] == "HTTP/1.0" and m["target"] == "/old"


def test_refused_request_logged_without_a_server(http_backend, http_lb):
    be, lb = lb_with_log(http_backend, http_lb, extra=["--max-body-size", "10"])
    exchange_raw(lb.addr, b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
    line = wait_lines(lb.proc, 1)[0]
    m = TEXT.match(line)
    assert m, line
    assert (m["method"], m["target"], m["status"], m["pool"], m["server"]) == \
        ("POST", "/big", "413", "-", "-")


def test_parse_error_logged_with_400(http_backend, http_lb):
    be, lb = lb_with_log(http_backend, http_lb)
    exchange_raw(lb.addr, b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
    lines = wait_lines(lb.proc, 1)
    assert len(lines) == 1
    assert " 400 " in lines[0] and " -/- " in lines[0], lines[0]


def test_json_access_log(http_backend, http_lb):
    be, lb = lb_with_log(http_backend, http_lb, extra=["--log-format", "json"])
    with HttpClient(lb.addr) as c:
        r = c.request("GET", "/j?q=\"quoted\\")
        port = c.local_port
    lines = wait_lines(lb.proc, 1)
    rec = json.loads(lines[0])
    assert set(rec) == JSON_KEYS, rec
    assert rec["client"] == "127.0.0.1:%d" % port
    assert rec["method"] == "GET"
    assert rec["target"] == "/j?q=\"quoted\\"
    assert rec["version"] == "HTTP/1.1"
    assert rec["status"] == 200
    assert rec["bytes"] == len(r.raw)
    assert (rec["pool"], rec["server"]) == ("default", "rec")
    assert isinstance(rec["duration_ms"], (int, float)) and rec["duration_ms"] >= 0
    assert rec["request_id"] == be.requests[0].get("X-Request-Id")
    # the process log (stderr) stays JSON too, and separate
    for l in lb.proc.stderr().splitlines():
        assert set(json.loads(l)) == {"ts", "level", "msg"}


def test_access_log_off(http_backend, http_lb):
    be, lb = lb_with_log(http_backend, http_lb, extra=["--access-log", "off"])
    with HttpClient(lb.addr) as c:
        for _ in range(3):
            assert c.request().status == 200
    exchange_raw(lb.addr, b"BAD\r\n\r\n")
    lb.proc.signal(15)
    lb.proc.wait(10)
    assert lb.proc.stdout() == ""
    assert '"GET / HTTP/1.1"' not in lb.proc.stderr()


def test_access_log_to_stderr(http_backend, http_lb):
    be, lb = lb_with_log(http_backend, http_lb, extra=["--access-log", "stderr"])
    with HttpClient(lb.addr) as c:
        c.request("GET", "/to-stderr")
    wait_until(lambda: '"GET /to-stderr HTTP/1.1" 200' in lb.proc.stderr(), what="the line")
    assert lb.proc.stdout() == ""


def test_access_log_to_a_file_appends(http_backend, http_lb, tmp_path):
    path = tmp_path / "access.log"
    path.write_text("existing line\n")
    be, lb = lb_with_log(http_backend, http_lb, extra=["--access-log", str(path)])
    with HttpClient(lb.addr) as c:
        c.request("GET", "/f1")
        c.request("GET", "/f2")
    lines = wait_until(lambda: len(path.read_text().splitlines()) >= 3 and
                       path.read_text().splitlines(), what="2 lines in the file")
    assert lines[0] == "existing line"
    assert [TEXT.match(l)["target"] for l in lines[1:]] == ["/f1", "/f2"]
    assert lb.proc.stdout() == ""


def test_access_log_in_a_config_file(http_backend, start_lb, tmp_conf, tmp_path):
    be = http_backend("rec")
    path = tmp_path / "a.log"
    listen, admin = free_addr(), free_addr()
    conf = tmp_conf("[global]\nthreads = 1\nadmin = %s\naccess-log = %s\n"
                    "[pool web]\nserver = %s,name=rec\nhealth-check = none\n"
                    "[listen front]\nbind = %s\npool = web\n" % (admin, path, be.addr, listen))
    start_lb(["-c", conf], listen=listen, admin=admin)
    with HttpClient(listen) as c:
        c.request("GET", "/conf")
    line = wait_until(lambda: path.exists() and path.read_text().strip(), what="a line")
    m = TEXT.match(line)
    assert m and (m["target"], m["pool"], m["server"]) == ("/conf", "web", "rec")


def test_upstream_errors_logged_with_their_status(http_backend, http_lb):
    def closer(req, conn, be):
        return None
    be = http_backend("a", respond=closer)
    lb = http_lb([be], extra=["--response-timeout", "5s"])
    exchange_raw(lb.addr, build_request("POST", "/x", body=b"1"))
    line = wait_lines(lb.proc, 1)[0]
    m = TEXT.match(line)
    assert m and (m["status"], m["pool"], m["server"]) == ("502", "default", "a"), line
