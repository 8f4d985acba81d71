"""strata ratelimit serve: CL.THROTTLE answered as redis-cell answers it, to
redis-py and redis-cli; pipelining; errors worded as Redis words them; a
protocol error closes that connection only; bad flags."""

import socket
import subprocess

import pytest
import redis

from conftest import free_addr, run_strata, split_addr, wait_listening


@pytest.fixture
def service(procs):
    addr = free_addr()
    p = procs.start([__import__("conftest").STRATA, "ratelimit", "serve", "--listen", addr],
                    "ratelimit")
    wait_listening(addr, proc=p)
    host, port = split_addr(addr)
    client = redis.Redis(host=host, port=port, socket_timeout=10)
    yield addr, client, p
    client.close()


def test_redis_cell_readme_example(service):
    _, r, _ = service
    # CL.THROTTLE user123 15 30 60 1: 16 at once, then one per 2 s.
    assert r.execute_command("CL.THROTTLE", "user123", 15, 30, 60, 1) == [0, 16, 15, -1, 2]
    for left in range(14, -1, -1):
        reply = r.execute_command("CL.THROTTLE", "user123", 15, 30, 60)
        assert reply[:3] == [0, 16, left] and reply[3] == -1
    limited = r.execute_command("CL.THROTTLE", "user123", 15, 30, 60)
    # Refused; retry after just under 2 s and reset after just under 32 s,
    # reported in whole seconds truncated as redis-cell does.
    assert limited[:3] == [1, 16, 0]
    assert limited[3] in (1, 2) and limited[4] in (31, 32)
    # Keys are separate; quantity 0 peeks without using anything.
    assert r.execute_command("CL.THROTTLE", "other", 15, 30, 60, 0) == [0, 16, 16, -1, 0]
    # A request larger than the burst can never pass: retry_after stays -1.
    assert r.execute_command("CL.THROTTLE", "other", 15, 30, 60, 17)[:4] == [1, 16, 16, -1]


def test_extreme_arguments_keep_a_sane_state(service):
    _, r, _ = service
    # A theoretical arrival time past 2^64 ns is held at the furthest one,
    # not wrapped: the second request is refused, with sane figures.
    first = r.execute_command("CL.THROTTLE", "big", 1000000000, 1, 100000000, 1000000000)
    second = r.execute_command("CL.THROTTLE", "big", 1000000000, 1, 100000000, 1000000000)
    assert first[0] == 0 and second[0] == 1 and min(second[2], second[4]) >= 0
    # An emission interval under a microsecond: redis-cell's division by
    # zero saturates; never a negative count.
    reply = r.execute_command("CL.THROTTLE", "fast", 5, 1000000000, 1)
    assert reply[0] == 0 and reply[2] >= 0


def test_pipelined_and_redis_cli(service):
    addr, r, _ = service
    pipe = r.pipeline(transaction=False)
    for _ in range(10):
        pipe.execute_command("CL.THROTTLE", "p", 4, 1, 60)
    replies = pipe.execute()
    assert [x[0] for x in replies] == [0] * 5 + [1] * 5
    host, port = split_addr(addr)
    out = subprocess.run(["redis-cli", "-h", host, "-p", str(port), "CL.THROTTLE", "cli", "0", "1",
                          "10"], capture_output=True, text=True, timeout=10)
    assert out.stdout.split() == ["0", "1", "0", "-1", "10"]
    assert r.ping() is True
    assert r.echo("hi") == b"hi"


@pytest.mark.parametrize("args,error", [
    (["CL.THROTTLE", "k", "x", "1", "1"], "value is not an integer or out of range"),
    (["CL.THROTTLE", "k", "1", "0", "1"], "value is not an integer or out of range"),
    (["CL.THROTTLE", "k", "-1", "1", "1"], "value is not an integer or out of range"),
    (["CL.THROTTLE", "k", "1", "1", "1", "-2"], "value is not an integer or out of range"),
    (["CL.THROTTLE", "k", "1", "1"], "wrong number of arguments for 'cl.throttle' command"),
    (["NOPE", "a"], "unknown command 'NOPE', with args beginning with: 'a'"),
])
def test_command_errors_keep_the_connection(service, args, error):
    _, r, _ = service
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    assert error in str(e.value)
    assert r.ping() is True


@pytest.mark.parametrize("junk,error", [
    (b"*1\r\n$x\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
    (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$2147483648\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
])
def test_protocol_errors_close_only_that_connection(service, junk, error):
    addr, r, p = service
    assert r.execute_command("CL.THROTTLE", "kept", 10, 1, 60)[0] == 0
    s = socket.create_connection(split_addr(addr), timeout=5)
    s.sendall(junk)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data == error
    assert p.alive()
    # Other clients and stored state are untouched.
    assert r.execute_command("CL.THROTTLE", "kept", 10, 1, 60)[:3] == [0, 11, 9]


def test_binary_garbage_and_inline(service):
    addr, r, p = service
    s = socket.create_connection(split_addr(addr), timeout=5)
    s.sendall(b"PING\r\nPING hello\r\n")
    got = b""
    while got.count(b"\r\n") < 3:
        got += s.recv(4096)
    assert got == b"+PONG\r\n$5\r\nhello\r\n"
    s.sendall(bytes(range(256)) * 4 + b"\r\n")
    s.settimeout(5)
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert p.alive() and r.ping() is True


@pytest.mark.parametrize("args,needle", [
    (["serve"], "--listen ADDR:PORT is required"),
    (["serve", "--listen", "nowhere"], "--listen: 'nowhere'"),
    (["serve", "--listen", "127.0.0.1:1", "--max-keys", "0"], "--max-keys: '0'"),
    (["serve", "--listen", "127.0.0.1:1", "--bogus"], "unknown option '--bogus'"),
])
def test_bad_flags(args, needle):
    r = run_strata(["ratelimit"] + args)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and needle in r.stderr


def _cpu_ticks(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_client_that_does_not_read_is_not_spun_on(service):
    """A client pipelining without reading its replies fills its output; the
    server stops reading it (no busy loop) and keeps serving the others."""
    import time
    addr, r, p = service
    # A small receive buffer, set before connecting (a window shrunk after the
    # handshake makes loopback TCP crawl on retransmission timeouts).
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(split_addr(addr))
    s.setblocking(False)
    sent = 0
    payload = b"PING\r\n" * 10000
    deadline = time.time() + 5
    # Each send goes on where the last stopped (a send may take part of
    # its bytes), so the server sees whole PINGs.
    while sent < 60 * len(payload) and time.time() < deadline:
        try:
            sent += s.send(payload[sent % len(payload):])
        except BlockingIOError:
            time.sleep(0.01)
    # Measure once the server has stopped taking bytes (the buffers are
    # full): until then it may still be answering what it had read.
    stuck_since = time.time()
    while time.time() - stuck_since < 0.5 and time.time() < deadline + 10:
        try:
            sent += s.send(payload[sent % len(payload):])
            stuck_since = time.time()
        except BlockingIOError:
            time.sleep(0.05)
    before = _cpu_ticks(p.pid)
    time.sleep(2.0)
    used = _cpu_ticks(p.pid) - before
    assert used < 50, "the server used %d ticks of CPU in 2 s with a stalled client" % used
    assert r.ping() is True
    s.setblocking(True)
    got = 0
    s.settimeout(10)
    while got < sent // 6 * 7:     # "+PONG\r\n" per "PING\r\n"
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    assert got == sent // 6 * 7
    s.close()
