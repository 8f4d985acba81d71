"""Shared fixtures and helpers for the strata integration tests.

Every test starts real processes (`$STRATA_BIN echo`, `$STRATA_BIN lb`) on
127.0.0.1, on ports handed out by the kernel (bind to port 0, read, close;
never handed out twice in one run), and talks to them with raw sockets,
`requests` or `curl`. Each process is killed when its test ends, and also
if pytest itself dies (PR_SET_PDEATHSIG). A failing test shows the stderr of
every process it started.

Run with Debian's python: /usr/bin/python3 -m pytest -q tests/integration
"""

import ctypes
import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
STRATA = os.environ.get("STRATA_BIN") or str(REPO / "strata")

# Deadlines are generous: the suite also runs against an ASan+UBSan build on
# a small machine. Polling returns as soon as the condition holds.
READY_TIMEOUT = 15.0
STATE_TIMEOUT = 6.0
IO_TIMEOUT = 10.0

# ---------------------------------------------------------------- ports ---

_ports_lock = threading.Lock()
_ports_used = set()


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on and that this run
    has not handed out before."""
    with _ports_lock:
        for _ in range(1000):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            finally:
                s.close()
            if port not in _ports_used:
                _ports_used.add(port)
                return port
    raise RuntimeError("no free port")


def free_addr():
    return "127.0.0.1:%d" % free_port()


def split_addr(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


# ------------------------------------------------------------ processes ---

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Proc:
    """A process started by a test, with stdout and stderr in temp files."""

    def __init__(self, args, label):
        self.args = [str(a) for a in args]
        self.label = label
        self.out = tempfile.NamedTemporaryFile(prefix="strata-out-", delete=False)
        self.err = tempfile.NamedTemporaryFile(prefix="strata-err-", delete=False)
        self.popen = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err,
            preexec_fn=_die_with_parent, close_fds=True)
        self.pid = self.popen.pid
        self.final_err = None  # kept once the temp files are gone

    def stderr(self):
        if self.final_err is not None:
            return self.final_err
        with open(self.err.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.out.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.popen.poll() is None

    def signal(self, signo):
        if self.alive():
            self.popen.send_signal(signo)

    def kill(self):
        if self.alive():
            self.popen.kill()
        try:
            self.popen.wait(timeout=IO_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass

    def wait(self, timeout):
        return self.popen.wait(timeout=timeout)

    def wait_log(self, text, timeout=READY_TIMEOUT, start=0):
        """Wait until `text` appears in stderr (after offset `start`)."""
        wait_until(lambda: text in self.stderr()[start:], timeout,
                   "%s: log line %r" % (self.label, text), proc=self)

    def cleanup(self):
        self.kill()
        self.final_err = self.stderr()
        for f in (self.out, self.err):
            f.close()
            try:
                os.unlink(f.name)
            except OSError:
                pass


class ProcessManager:
    def __init__(self):
        self.procs = []

    def start(self, args, label=None):
        p = Proc(args, label or " ".join(str(a) for a in args[:3]))
        self.procs.append(p)
        return p

    def report(self):
        parts = []
        for p in self.procs:
            rc = p.popen.poll()
            parts.append("---- %s (pid %d, %s) ----\n$ %s\n%s" % (
                p.label, p.pid, "running" if rc is None else "exit %s" % rc,
                " ".join(p.args), p.stderr()[-6000:]))
        return "\n".join(parts)

    def problems(self):
        """Crashes and sanitizer reports of the processes started so far."""
        out = []
        for p in self.procs:
            rc = p.popen.poll()
            if rc is not None and rc < 0 and rc != -signal.SIGKILL:
                out.append("%s died of signal %d" % (p.label, -rc))
            err = p.stderr()
            for marker in SANITIZER_MARKERS:
                if marker in err:
                    out.append("%s: %r in its stderr" % (p.label, marker))
        return out

    def cleanup(self):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.cleanup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    mgr = getattr(item, "_strata_procs", None)
    if mgr is not None and rep.failed and mgr.procs:
        rep.sections.append(("stderr of the processes started (%s)" % rep.when, mgr.report()))


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


@pytest.fixture
def procs(request):
    """The processes a test starts: killed (SIGKILL) at teardown, which also
    fails the test if one of them crashed or reported a sanitizer error."""
    mgr = ProcessManager()
    request.node._strata_procs = mgr
    yield mgr
    problems = mgr.problems()
    report = mgr.report() if problems else ""
    mgr.cleanup()
    if problems:
        pytest.fail("%s\n%s" % ("; ".join(problems), report), pytrace=False)


def pytest_sessionstart(session):
    if not os.access(STRATA, os.X_OK):
        pytest.exit("strata binary %s is missing or not executable: run `make strata` "
                    "or set STRATA_BIN" % STRATA, returncode=2)


@pytest.fixture
def ports():
    """ports() -> "127.0.0.1:PORT", never handed out before in this run."""
    return free_addr


# -------------------------------------------------------------- waiting ---

def clear_of_window_edge(period_s, clocks=(time.time, time.monotonic), margin_s=30):
    """Fixed windows start at multiples of their period on the deciding
    clock (the lb's monotonic one, the store's wall clock): when an edge is
    less than margin_s away on any of `clocks`, wait past it, so the counts
    of a test are all in one window."""
    for clock in clocks:
        left = period_s - clock() % period_s
        if left < margin_s:
            time.sleep(left + 0.1)


def wait_until(fn, timeout=STATE_TIMEOUT, what="condition", interval=0.02, proc=None):
    """Poll fn() until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - reported below
            last_exc = e
        if proc is not None and not proc.alive():
            raise AssertionError("%s exited (%s) while waiting for %s" % (
                proc.label, proc.popen.poll(), what))
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s%s" % (
                timeout, what, " (last error: %r)" % last_exc if last_exc else ""))
        time.sleep(interval)


def can_connect(addr, timeout=1.0):
    host, port = split_addr(addr)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_listening(addr, timeout=READY_TIMEOUT, proc=None):
    wait_until(lambda: can_connect(addr), timeout, "%s to accept connections" % addr,
               interval=0.02, proc=proc)


def wait_closed(addr, timeout=READY_TIMEOUT):
    wait_until(lambda: not can_connect(addr), timeout, "%s to stop accepting" % addr)


def closed_without_reply(addr, timeout=5.0):
    """Connect, send a request: True when the peer closes or resets the
    connection without sending a byte (also if the reset beats connect())."""
    host, port = split_addr(addr)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            return s.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def port_is_free(addr):
    """Nobody listens on addr (a connect is refused)."""
    return not can_connect(addr, timeout=1.0)


# ---------------------------------------------------------------- HTTP ----

def _read_response(sock, buf=b""):
    """Read one HTTP/1.1 response (Content-Length framed) from sock.
    Returns (status, headers dict, body bytes, leftover bytes)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a full response head: %r" % buf)
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed in the middle of a body")
        rest += chunk
    return status, headers, rest[:n], rest[n:]


class HttpConn:
    """A keep-alive HTTP/1.1 connection over a raw socket, optionally from a
    given local address (any of 127/8)."""

    def __init__(self, addr, source_ip=None, timeout=IO_TIMEOUT):
        host, port = split_addr(addr)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source_ip:
            self.sock.bind((source_ip, 0))
        self.sock.connect((host, port))
        self.buf = b""

    def request(self, path="/", method="GET"):
        self.sock.sendall(("%s %s HTTP/1.1\r\nHost: strata-test\r\n\r\n" % (method, path)).encode())
        status, headers, body, self.buf = _read_response(self.sock, self.buf)
        return status, headers, body

    def get(self, path="/"):
        """The echo server's name (the body without its newline)."""
        status, _, body = self.request(path)
        assert status == 200, "status %d" % status
        return body.decode().rstrip("\n")

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def tcp_served(addr):
    """One HTTP request on a new connection to addr: True when a 200 came
    back, False when the connection was closed (or reset) without one."""
    s = socket.create_connection(split_addr(addr), timeout=5)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return s.recv(4096).startswith(b"HTTP/1.1 200")
    except ConnectionResetError:
        return False
    finally:
        s.close()


def http_get_via(addr, path="/", source_ip=None):
    """One request on a fresh connection through addr; returns the echo
    body without its trailing newline (the backend's name)."""
    with HttpConn(addr, source_ip=source_ip) as c:
        return c.get(path)


def admin_get(admin, path):
    return requests.get("http://%s%s" % (admin, path), timeout=IO_TIMEOUT)


def stats(admin):
    r = admin_get(admin, "/stats")
    assert r.status_code == 200, r.text
    return r.json()


def server_stats(admin, name, pool=None):
    for p in stats(admin)["pools"]:
        if pool is not None and p["name"] != pool:
            continue
        for s in p["servers"]:
            if s["name"] == name:
                return s
    raise KeyError(name)


def server_states(admin):
    return {s["name"]: s["state"] for p in stats(admin)["pools"] for s in p["servers"]}


def wait_state(admin, name, state, timeout=STATE_TIMEOUT):
    wait_until(lambda: server_stats(admin, name)["state"] == state, timeout,
               "server %s to be %s" % (name, state))


def wait_active(admin, name, n, timeout=STATE_TIMEOUT):
    """Wait until the lb counts n active connections on server `name`."""
    wait_until(lambda: server_stats(admin, name)["active"] == n, timeout,
               "server %s to have %d active connections" % (name, n))


def wait_lb_idle(admin, timeout=STATE_TIMEOUT):
    """Wait until no listener and no server counts an active connection
    (a client's close reaches the lb asynchronously)."""
    def idle():
        st = stats(admin)
        return (all(l["active"] == 0 for l in st["listeners"]) and
                all(s["active"] == 0 for p in st["pools"] for s in p["servers"]))
    wait_until(idle, timeout, "the lb to have no active connection")


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        if "{" in name_labels:
            name, _, rest = name_labels.partition("{")
            labels = {}
            body = rest.rstrip("}")
            # label values produced by strata contain no '",'
            for part in body.split('",'):
                if not part:
                    continue
                k, _, v = part.partition("=")
                labels[k] = v.strip('"')
        else:
            name, labels = name_labels, {}
        out[(name, frozenset(labels.items()))] = float(value)
    return out


# ------------------------------------------------------------- starting ---

class Echo:
    def __init__(self, proc, addr, name):
        self.proc, self.addr, self.name = proc, addr, name
        self.port = split_addr(addr)[1]

    def kill(self):
        self.proc.kill()


class Lb:
    def __init__(self, proc, addr, admin, listens):
        self.proc, self.addr, self.admin = proc, addr, admin
        self.listens = listens

    def stats(self):
        return stats(self.admin)

    def server(self, name, pool=None):
        return server_stats(self.admin, name, pool)


@pytest.fixture
def start_echo(procs):
    """start_echo(name, addr=None, threads=None) -> Echo, once it accepts.

    With an addr that was used before (a restarted backend), a start that
    fails because the port is still taken is retried until READY_TIMEOUT."""

    def start(name, addr=None, threads=None):
        addr = addr or free_addr()
        args = [STRATA, "echo", "--listen", addr, "--name", name]
        if threads:
            args += ["--threads", str(threads)]
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            p = procs.start(args, "echo %s" % name)
            try:
                wait_listening(addr, timeout=max(0.5, deadline - time.monotonic()), proc=p)
                return Echo(p, addr, name)
            except AssertionError:
                if p.alive() or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    return start


def _lb_ready(p, admin, listens):
    p.wait_log("running with", READY_TIMEOUT)
    if admin:
        wait_until(lambda: admin_get(admin, "/healthz").status_code == 200,
                   READY_TIMEOUT, "admin %s" % admin, proc=p)


@pytest.fixture
def start_lb(procs):
    """start_lb(args, listen=None, admin=None, wait=True) -> Lb.

    `args` are the flags after `strata lb`. `listen` and `admin`, when given,
    are addresses already in `args` (so the helper knows where to look);
    readiness is the "running with N threads" log line plus /healthz."""

    def start(args, listen=None, admin=None, wait=True, listens=None):
        p = procs.start([STRATA, "lb"] + [str(a) for a in args], "lb")
        if wait:
            _lb_ready(p, admin, listens)
        return Lb(p, listen, admin, listens or {})

    return start


class RedisServer:
    def __init__(self, proc, addr):
        self.proc, self.addr = proc, addr
        self.host, self.port = split_addr(addr)

    def cli(self, *args):
        """redis-cli against this server; its stdout, stripped."""
        r = subprocess.run(["redis-cli", "-h", self.host, "-p", str(self.port)] +
                           [str(a) for a in args], capture_output=True, text=True,
                           timeout=IO_TIMEOUT)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()


@pytest.fixture
def start_redis(procs):
    """start_redis(addr=None) -> RedisServer: Debian's redis-server on
    127.0.0.1 without persistence, once it accepts."""

    def start(addr=None):
        addr = addr or free_addr()
        host, port = split_addr(addr)
        p = procs.start(["redis-server", "--bind", host, "--port", port, "--save", "",
                         "--appendonly", "no", "--protected-mode", "no"], "redis-server")
        wait_listening(addr, proc=p)
        return RedisServer(p, addr)

    return start


@pytest.fixture
def lb_for(start_lb):
    """lb_for(backends, balance=..., threads=1, extra=[...]) -> Lb with an
    admin address, a quick-start config and short health intervals."""

    def start(backends, balance="roundrobin", threads=1, check="tcp", interval="100ms",
              rise=2, fall=2, extra=(), weights=None):
        listen, admin = free_addr(), free_addr()
        args = ["--mode", "tcp", "--listen", listen, "--admin", admin,
                "--balance", balance, "--threads", threads,
                "--health-check", check, "--health-interval", interval,
                "--rise", rise, "--fall", fall, "--log-level", "debug"]
        for i, b in enumerate(backends):
            spec = "%s,name=%s" % (b.addr, b.name)
            if weights:
                spec += ",weight=%d" % weights[i]
            args += ["--server", spec]
        args += list(extra)
        return start_lb(args, listen=listen, admin=admin)

    return start


@pytest.fixture
def tmp_conf(tmp_path):
    """tmp_conf(text) -> path of a config file holding text."""
    counter = [0]

    def write(text, path=None):
        if path is None:
            counter[0] += 1
            path = tmp_path / ("lb-%d.ini" % counter[0])
        tmp = pathlib.Path(str(path) + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)  # atomic: a reload never sees half a file
        return path

    return write


def run_strata(args, timeout=20):
    """Run strata to completion; returns CompletedProcess (text)."""
    return subprocess.run([STRATA] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_die_with_parent)


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ------------------------------------------------------ python backends ---

class PyServer:
    """A thread-based TCP server on 127.0.0.1: handler(conn) runs in its own
    thread for every accepted connection and may raise; the socket is closed
    after it returns. `accepted` counts connections; `stop_listening()`
    closes the listening socket but leaves open connections alone."""

    def __init__(self, handler, backlog=128, accept=True):
        self.handler = handler
        self.addr = free_addr()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(split_addr(self.addr))
        self.lsock.listen(backlog)
        self.accepted = 0
        self.conns = []
        self.errors = []
        self.lock = threading.Lock()
        self.stopped = False
        if accept:
            self.thread = threading.Thread(target=self._loop, daemon=True)
            self.thread.start()

    def _loop(self):
        while not self.stopped:
            try:
                conn, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(IO_TIMEOUT)
            self.handler(conn)
        except Exception as e:  # noqa: BLE001 - kept for the test to look at
            self.errors.append(e)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop_listening(self):
        self.stopped = True
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()

    def close(self):
        self.stop_listening()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


@pytest.fixture
def py_server():
    """py_server(handler, ...) -> PyServer; all are closed after the test."""
    servers = []

    def make(handler, **kw):
        s = PyServer(handler, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def recv_all(sock, limit=None):
    """Read until EOF (or `limit` bytes)."""
    chunks, n = [], 0
    while limit is None or n < limit:
        chunk = sock.recv(1 << 20 if limit is None else min(1 << 20, limit - n))
        if not chunk:
            break
        chunks.append(chunk)
        n += len(chunk)
    return b"".join(chunks)


def read_http_request(conn):
    """Read one request head from conn (no body); returns its text."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode("latin-1")


def http_reply(name):
    body = (name + "\n").encode()
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


# ------------------------------------------------------ http mode (L7) ---
#
# Helpers for the test_http_*.py files: a raw-socket HTTP/1.1 client that
# keeps every byte it gets (`HttpClient`, `Response`), and a recording HTTP
# backend (`HttpBackend`) that keeps, per connection, every byte strata sent
# it, so a test can prove what did (and did not) reach a server.

REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK",
    400: "Bad Request", 405: "Method Not Allowed", 408: "Request Timeout",
    413: "Content Too Large", 417: "Expectation Failed",
    431: "Request Header Fields Too Large", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}
# RFC 9110 renamed 413; the older phrase is accepted too
REASON_ALTERNATIVES = {413: {"Content Too Large", "Payload Too Large"}}


class SockReader:
    """Buffered reads on a socket; `log` keeps every byte received and
    `consumed` how many of them were handed out."""

    def __init__(self, sock, buf=b""):
        self.sock = sock
        self.buf = bytearray(buf)
        self.log = bytearray(buf)
        self.consumed = 0
        self.eof = False

    def _fill(self):
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(1 << 16)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        self.log += chunk
        return True

    def _take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.consumed += n
        return out

    def read_until(self, sep, limit=1 << 20):
        """Bytes up to and including sep; None at EOF before it."""
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                return self._take(i + len(sep))
            if len(self.buf) > limit or not self._fill():
                return None

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                return None
        return self._take(n)

    def read_some(self, limit=1 << 16):
        """Whatever is buffered or arrives next (b"" at EOF)."""
        if not self.buf:
            self._fill()
        return self._take(min(limit, len(self.buf)))

    def read_to_eof(self):
        while self._fill():
            pass
        return self._take(len(self.buf))

    def at_eof(self):
        """True when the peer closed (or reset) with nothing more to read."""
        if self.buf:
            return False
        return not self._fill()


def parse_fields(lines):
    """Field lines -> [(name, value)], values without surrounding OWS."""
    out = []
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError("field line without a colon: %r" % line)
        out.append((name, value.strip(" \t")))
    return out


def field_values(fields, name):
    """Every value of `name` (case-insensitive), split on commas, in order."""
    vals = []
    for k, v in fields:
        if k.lower() == name.lower():
            vals.extend(p.strip() for p in v.split(","))
    return vals


def field_lines(fields, name):
    """The raw values of every field line named `name`."""
    return [v for k, v in fields if k.lower() == name.lower()]


def read_chunked(rd):
    """Decode a chunked body from a SockReader; returns (data, trailer fields)."""
    data = bytearray()
    while True:
        line = rd.read_until(b"\r\n")
        if line is None:
            raise ConnectionError("EOF inside a chunked body after %d bytes" % len(data))
        size = int(line[:-2].split(b";")[0].strip(), 16)
        if size == 0:
            break
        chunk = rd.read_exact(size)
        if chunk is None or rd.read_exact(2) != b"\r\n":
            raise ConnectionError("EOF or bad framing inside a chunk")
        data += chunk
    trailers = []
    while True:
        line = rd.read_until(b"\r\n")
        if line is None:
            raise ConnectionError("EOF in the trailer section")
        if line == b"\r\n":
            break
        trailers.append(line[:-2].decode("latin-1"))
    return bytes(data), parse_fields(trailers)


class Fields:
    """Field accessors shared by parsed responses and recorded requests
    (`self.fields` is a list of (name, value) in arrival order)."""

    def values(self, name):
        return field_values(self.fields, name)

    def lines(self, name):
        return field_lines(self.fields, name)

    def get(self, name):
        """The value of a field that must appear at most once (else None)."""
        ls = self.lines(name)
        assert len(ls) <= 1, "%s appears %d times: %r" % (name, len(ls), ls)
        return ls[0] if ls else None

    def has(self, name):
        return bool(self.lines(name))

    def names(self):
        return [k.lower() for k, _ in self.fields]


class Response(Fields):
    def __init__(self, version, status, reason, fields, body, raw, framing):
        self.version, self.status, self.reason = version, status, reason
        self.fields, self.body, self.raw, self.framing = fields, body, raw, framing

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %r>" % (self.raw[:600],)


def read_response(rd, method="GET"):
    """One response (interim 1xx ones included: call again) from a SockReader;
    None if the connection ended before any byte of it."""
    start = rd.consumed
    head = rd.read_until(b"\r\n\r\n")
    if head is None:
        rest = bytes(rd.buf)
        if not rest and rd.consumed == start:
            return None
        raise ConnectionError("connection closed inside a response head: %r" % rest[:500])
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    version, status = parts[0], int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    fields = parse_fields(lines[1:])
    te = field_values(fields, "transfer-encoding")
    cl = field_lines(fields, "content-length")
    if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        body, framing = b"", "none"
    elif te:
        body, _ = read_chunked(rd)
        framing = "chunked"
    elif cl:
        n = int(cl[0])
        body = rd.read_exact(n)
        if body is None:
            raise ConnectionError("connection closed inside a %d-byte body: %r" % (n, bytes(rd.buf)[:200]))
        framing = "length"
    else:
        body, framing = rd.read_to_eof(), "close"
    raw = bytes(rd.log[start:rd.consumed])
    return Response(version, status, reason, fields, body, raw, framing)


class HttpClient:
    """A raw-socket client: send() any bytes, response() reads one."""

    def __init__(self, addr, source_ip=None, timeout=IO_TIMEOUT, sock=None):
        if sock is None:
            host, port = split_addr(addr)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            if source_ip:
                sock.bind((source_ip, 0))
            sock.connect((host, port))
        self.sock = sock
        self.rd = SockReader(sock)

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendall(data)

    def response(self, method="GET"):
        r = read_response(self.rd, method)
        if r is None:
            raise ConnectionError("connection closed instead of a response")
        return r

    def final_response(self, method="GET"):
        """Skips interim (1xx) responses; returns (interims, final)."""
        interim = []
        while True:
            r = self.response(method)
            if 100 <= r.status < 200 and r.status != 101:
                interim.append(r)
                continue
            return interim, r

    def request(self, method="GET", target="/", fields=(), body=None, host="strata-test",
                version="HTTP/1.1"):
        self.send(build_request(method, target, fields, body, host, version))
        return self.response(method)

    def closed(self):
        """True when the server closes the connection with no further byte."""
        return self.rd.at_eof()

    def rest(self):
        """Everything until EOF."""
        return self.rd.read_to_eof()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_request(method="GET", target="/", fields=(), body=None, host="strata-test",
                  version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, target, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    for k, v in fields:
        lines.append("%s: %s" % (k, v))
    if body is not None and not any(k.lower() in ("content-length", "transfer-encoding")
                                    for k, _ in fields):
        lines.append("Content-Length: %d" % len(body))
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data + (body or b"")


def exchange_raw(addr, data, timeout=5.0):
    """Send `data` on a fresh connection, then read until the peer closes.
    Returns (responses parsed, trailing bytes, closed): `closed` is False when
    the lb kept the connection open past `timeout`."""
    c = HttpClient(addr, timeout=timeout)
    try:
        c.send(data)
        rs = []
        try:
            while True:
                r = read_response(c.rd)
                if r is None:
                    return rs, b"", True
                rs.append(r)
        except socket.timeout:
            return rs, bytes(c.rd.buf), False
    finally:
        c.close()


def assert_error_response(r, code):
    """strata's own error response, exactly as the spec words it."""
    reasons = REASON_ALTERNATIVES.get(code, {REASONS[code]})
    assert r.version == "HTTP/1.1", r
    assert r.status == code, r
    assert r.reason in reasons, r
    assert r.get("Content-Type") == "text/plain", r
    assert r.get("Connection") is not None and r.get("Connection").lower() == "close", r
    assert r.body == ("%d %s\n" % (code, r.reason)).encode(), r
    assert r.get("Content-Length") == str(len(r.body)), r


class BackendRequest(Fields):
    def __init__(self, conn_index, request_line, fields, body, raw, chunked, trailers):
        self.conn = conn_index
        self.request_line = request_line
        parts = request_line.split(" ")
        self.method, self.target, self.version = (parts + ["", "", ""])[:3]
        self.fields, self.body, self.raw = fields, body, raw
        self.chunked, self.trailers = chunked, trailers

    def __repr__(self):
        return "<BackendRequest %r>" % (self.raw[:600],)


def ok_response(body, extra=(), head_only=False):
    """200 with a Content-Length; head_only for an answer to HEAD."""
    head = ["HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: %d" % len(body)]
    head += ["%s: %s" % kv for kv in extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


class HttpBackend:
    """A recording HTTP/1.1 server (a PyServer). Every byte received is kept
    per connection (`raw[i]`), every request parsed (`requests`).

    respond(req, conn, backend) -> bytes to send, or None to close the
    connection without answering; the default answers 200 with the body
    "<name>\\n" and `X-Backend: <name>`. `continue_100`: answer 100 Continue
    to `Expect: 100-continue` before reading the body."""

    def __init__(self, make_server, name="py", respond=None, continue_100=True):
        self.name = name
        self.respond = respond
        self.continue_100 = continue_100
        self.requests = []
        self.raw = []
        self.finished = 0  # connections whose handler returned
        self.lock = threading.Lock()
        self.srv = make_server(self._handle)
        self.addr = self.srv.addr

    @property
    def accepted(self):
        return self.srv.accepted

    def all_raw(self):
        with self.lock:
            return b"".join(bytes(r) for r in self.raw)

    def default_response(self, req, closing=False):
        extra = [("X-Backend", self.name)] + ([("Connection", "close")] if closing else [])
        return ok_response((self.name + "\n").encode(), extra, head_only=req.method == "HEAD")

    def _handle(self, conn):
        try:
            self._serve(conn)
        finally:
            with self.lock:
                self.finished += 1

    def _serve(self, conn):
        rd = SockReader(conn)
        with self.lock:
            idx = len(self.raw)
            self.raw.append(rd.log)  # shared: grows as bytes arrive
        while True:
            start = rd.consumed
            head = rd.read_until(b"\r\n\r\n")
            if head is None:
                return
            lines = head[:-4].decode("latin-1").split("\r\n")
            fields = parse_fields(lines[1:])
            if self.continue_100 and "100-continue" in [v.lower() for v in
                                                        field_values(fields, "expect")]:
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            chunked, trailers = False, []
            if field_values(fields, "transfer-encoding"):
                body, trailers = read_chunked(rd)
                chunked = True
            elif field_lines(fields, "content-length"):
                body = rd.read_exact(int(field_lines(fields, "content-length")[0]))
                if body is None:
                    return
            else:
                body = b""
            req = BackendRequest(idx, lines[0], fields, body, bytes(rd.log[start:rd.consumed]),
                                 chunked, trailers)
            with self.lock:
                self.requests.append(req)
            conn_tokens = [v.lower() for v in req.values("connection")]
            closing = "close" in conn_tokens or (req.version == "HTTP/1.0" and
                                                 "keep-alive" not in conn_tokens)
            if self.respond:
                out = self.respond(req, conn, self)
            else:
                out = self.default_response(req, closing)
            if out is None:
                return
            conn.sendall(out)
            if closing:
                return


class DeadServer:
    """An address nobody listens on."""

    def __init__(self, name="dead"):
        self.name, self.addr = name, free_addr()


@pytest.fixture
def http_backend(py_server):
    """http_backend(name="py", respond=None, continue_100=True) -> HttpBackend."""
    def make(name="py", respond=None, continue_100=True):
        return HttpBackend(py_server, name, respond, continue_100)
    return make


@pytest.fixture
def http_lb(start_lb):
    """http_lb(backends, ...) -> Lb in http mode with an admin address. Health
    checks default to none, so a recording backend only sees test traffic."""

    def start(backends, balance="roundrobin", threads=1, check="none", interval="100ms",
              rise=1, fall=1, extra=(), weights=None):
        listen, admin = free_addr(), free_addr()
        args = ["--mode", "http", "--listen", listen, "--admin", admin,
                "--balance", balance, "--threads", threads,
                "--health-check", check, "--health-interval", interval,
                "--rise", rise, "--fall", fall]
        for i, b in enumerate(backends):
            spec = "%s,name=%s" % (b.addr, b.name)
            if weights:
                spec += ",weight=%d" % weights[i]
            args += ["--server", spec]
        args += list(extra)
        return start_lb(args, listen=listen, admin=admin)

    return start


def proc_status_kb(pid, key):
    """A field of /proc/PID/status in kB (VmRSS, VmHWM...)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def access_lines(proc):
    """The lb's access log lines (stdout), without blank lines."""
    return [l for l in proc.stdout().splitlines() if l.strip()]
