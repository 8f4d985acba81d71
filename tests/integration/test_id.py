"""strata id: Snowflake IDs, UUIDv7 and ULID over the Redis protocol (redis-py,
redis-cli, redis-benchmark) and HTTP; two processes with different workers
never collide; one (datacenter, worker) per host; the persisted timestamp
catches a restart behind it; every bad input gets a clear error."""

import signal
import subprocess
import threading
import time
import uuid

import pytest
import redis
import requests

from conftest import STRATA, free_addr, run_strata, split_addr, wait_listening, wait_until

EPOCH_MS = 1288834974657
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@pytest.fixture
def start_id(procs, tmp_path):
    """start_id(dc, worker, *flags, dir=tmp) -> (proc, redis client, http addr)."""

    def start(dc=1, worker=2, *flags, dir=None, wait=True):
        listen, http = free_addr(), free_addr()
        p = procs.start([STRATA, "id",
                         "--listen", listen, "--http", http, "--datacenter", dc,
                         "--worker", worker, "--dir", dir or tmp_path] + list(flags), "id")
        if wait:
            wait_listening(listen, proc=p)
            wait_listening(http, proc=p)
        host, port = split_addr(listen)
        return p, redis.Redis(host=host, port=port, socket_timeout=10), http

    return start


def parse(client, i):
    r = client.execute_command("ID.PARSE", i)
    return {r[k].decode(): r[k + 1] for k in range(0, len(r), 2)}


def test_ids_parse_back_and_increase(start_id):
    _, c, _ = start_id(3, 17)
    before = int(time.time() * 1000)
    one = c.execute_command("ID.NEXT")
    many = c.execute_command("ID.NEXT", 1000)
    after = int(time.time() * 1000)
    assert isinstance(one, int) and len(many) == 1000
    assert all(b > a for a, b in zip([one] + many, many))
    f = parse(c, one)
    assert f["datacenter"] == 3 and f["worker"] == 17
    assert before - 5 <= f["timestamp_ms"] <= after + 5
    assert one >> 22 == f["timestamp_ms"] - EPOCH_MS and one < 2 ** 63
    # Within a millisecond the sequence counts up by one; a new millisecond
    # starts it at 0.
    for a, b in zip(many, many[1:]):
        fa, fb = parse(c, a), parse(c, b)
        if fb["timestamp_ms"] == fa["timestamp_ms"]:
            assert fb["sequence"] == fa["sequence"] + 1
        else:
            assert fb["timestamp_ms"] > fa["timestamp_ms"] and fb["sequence"] == 0


def test_uuid7_and_ulid(start_id):
    _, c, _ = start_id()
    now = int(time.time() * 1000)
    us = [x.decode() for x in c.execute_command("ID.UUID7", 500)]
    assert us == sorted(us) and len(set(us)) == 500
    for u in (us[0], us[-1]):
        v = uuid.UUID(u)
        assert v.version == 7 and v.variant == uuid.RFC_4122
        assert abs(int(u.replace("-", "")[:12], 16) - now) < 5000
    ls = [x.decode() for x in c.execute_command("ID.ULID", 500)]
    assert ls == sorted(ls) and len(set(ls)) == 500
    assert all(len(x) == 26 and set(x) <= set(CROCKFORD) for x in ls)
    value = 0
    for ch in ls[0]:
        value = value * 32 + CROCKFORD.index(ch)
    assert abs((value >> 80) - now) < 5000
    assert isinstance(c.execute_command("ID.ULID"), bytes)


def test_two_processes_with_different_workers_never_collide(start_id):
    gens = [start_id(1, w)[1] for w in (1, 2)]
    got = [[], []]

    def take(k):
        for _ in range(50):
            got[k].extend(gens[k].execute_command("ID.NEXT", 10000))

    threads = [threading.Thread(target=take, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got[0]) == len(got[1]) == 500000
    for ids in got:
        assert all(b > a for a, b in zip(ids, ids[1:]))
    assert len(set(got[0]) | set(got[1])) == 1000000


def test_one_datacenter_and_worker_per_host(start_id, tmp_path):
    start_id(1, 2)
    r = run_strata(["id", "--listen", free_addr(), "-d", "1", "-w", "2", "--dir", tmp_path])
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert "datacenter 1 worker 2 is already running on this host" in r.stderr
    # The lock is the host's, not the directory's.
    other = tmp_path / "elsewhere"
    other.mkdir()
    r = run_strata(["id", "--listen", free_addr(), "-d", "1", "-w", "2", "--dir", other])
    assert r.returncode == 2 and "already running on this host" in r.stderr
    start_id(1, 3)  # another worker is fine


def test_a_restart_behind_the_last_id_is_refused_until_the_clock_catches_up(start_id,
                                                                             tmp_path):
    p, c, _ = start_id(1, 2)
    last_ms = parse(c, c.execute_command("ID.NEXT"))["timestamp_ms"]
    p.signal(signal.SIGTERM)
    p.wait(10)
    saved, how = (tmp_path / "id-1-2.state").read_text().split()
    assert how == "clean" and int(saved) >= last_ms
    # A clock 5 s behind the last run: as if the state said so.
    floor = int(time.time() * 1000) + 5000
    (tmp_path / "id-1-2.state").write_text("%d clean\n" % floor)
    p, c, _ = start_id(1, 2)
    p.wait_log("behind the last ID of the previous run")
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command("ID.NEXT")
    assert "clock moved backwards" in str(e.value)
    assert c.ping()  # the connection stays
    first = wait_until(lambda: _try_next(c), 15, "IDs after the clock caught up")
    assert parse(c, first)["timestamp_ms"] > floor
    assert c.info()["clock_refusals"] >= 1  # redis-py reads INFO as it reads Redis's


def _try_next(c):
    try:
        return c.execute_command("ID.NEXT")
    except redis.ResponseError:
        return None


def test_a_crash_leaves_a_floor_past_every_id_issued(start_id, tmp_path):
    """While running, the state file holds a lease: every ID issued is below
    it, so after SIGKILL the next run starts after all of them."""
    p, c, _ = start_id(1, 2)
    issued = []
    deadline = time.time() + 2.5  # past a renewal or two
    while time.time() < deadline:
        issued += c.execute_command("ID.NEXT", 500)
    p.kill()  # SIGKILL: no clean save
    p.wait(10)
    saved, how = (tmp_path / "id-1-2.state").read_text().split()
    assert how == "running"
    newest = max(issued) >> 22
    assert int(saved) > newest + EPOCH_MS, "the lease must be ahead of every ID issued"
    p, c, _ = start_id(1, 2)
    assert c.info()["last_ms"] == int(saved)
    first = wait_until(lambda: _try_next(c), 10, "IDs after the floor")
    assert parse(c, first)["timestamp_ms"] > int(saved) and first > max(issued)


def test_ids_stop_when_the_state_cannot_be_saved(start_id, tmp_path):
    """No ID is issued past what the state file covers: when saving fails,
    IDs stop at the lease with an error, and resume once it can be saved."""
    p, c, http = start_id(1, 2)
    state = tmp_path / "id-1-2.state"
    blocker = tmp_path / "id-1-2.state.tmp"  # a directory where the file is written
    blocker.mkdir()
    issued = []
    err = None
    deadline = time.time() + 10
    while err is None and time.time() < deadline:
        try:
            issued.append(c.execute_command("ID.NEXT"))
        except redis.ResponseError as e:
            err = str(e)
    assert err and "cannot save %s: Is a directory; refusing IDs until it can" % state in err
    p.wait_log("IDs stop when the lease runs out")
    lease = int(state.read_text().split()[0])
    assert (max(issued) >> 22) + EPOCH_MS < lease
    assert requests.get("http://%s/id" % http, timeout=5).status_code == 503
    assert c.info()["lease_refusals"] >= 2 and c.ping()
    blocker.rmdir()
    later = c.execute_command("ID.NEXT")
    assert later > max(issued)
    assert int(state.read_text().split()[0]) > (later >> 22) + EPOCH_MS


def test_a_state_that_cannot_be_saved_stops_the_start(start_id, tmp_path):
    (tmp_path / "id-1-2.state.tmp").mkdir()
    p, _, _ = start_id(1, 2, wait=False)
    assert p.wait(10) == 1
    p.wait_log("cannot save %s: Is a directory" % (tmp_path / "id-1-2.state"))


@pytest.mark.parametrize("args,needle", [
    (["ID.NEXT", "0"], "COUNT must be between 1 and 100000"),
    (["ID.NEXT", "-1"], "COUNT must be between 1 and 100000"),
    (["ID.NEXT", "100001"], "COUNT must be between 1 and 100000"),
    (["ID.NEXT", "abc"], "value is not an integer or out of range"),
    (["ID.NEXT", "1", "2"], "wrong number of arguments for 'id.next' command"),
    (["ID.UUID7", "0"], "COUNT must be between 1 and 100000"),
    (["ID.ULID", "x"], "value is not an integer or out of range"),
    (["ID.PARSE"], "wrong number of arguments for 'id.parse' command"),
    (["ID.PARSE", "abc"], "invalid ID"),
    (["ID.PARSE", "-1"], "invalid ID"),
    (["ID.PARSE", "9223372036854775808"], "invalid ID"),
    (["ID.NOPE"], "unknown command 'ID.NOPE'"),
])
def test_bad_commands_get_errors_and_the_connection_stays(start_id, args, needle):
    _, c, _ = start_id()
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    assert needle in str(e.value)
    assert isinstance(c.execute_command("ID.NEXT"), int)


def test_malformed_protocol_closes_only_that_connection(start_id):
    import socket
    p, c, _ = start_id()
    host, port = c.connection_pool.connection_kwargs["host"], \
        c.connection_pool.connection_kwargs["port"]
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"*1\r\n$-5\r\n")
    assert s.recv(100).startswith(b"-ERR Protocol error")
    assert s.recv(100) == b""
    s.close()
    assert isinstance(c.execute_command("ID.NEXT"), int) and p.alive()


def test_redis_cli_and_redis_benchmark(start_id):
    p, c, _ = start_id()
    port = c.connection_pool.connection_kwargs["port"]
    out = subprocess.run(["redis-cli", "-p", str(port), "ID.NEXT", "3"], capture_output=True,
                         text=True, timeout=10).stdout.split()
    assert len(out) == 3 and all(x.isdigit() for x in out)
    r = subprocess.run(["redis-benchmark", "-p", str(port), "-n", "20000", "-P", "16", "-q",
                        "ID.NEXT"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "requests per second" in r.stdout
    assert "WARNING" not in r.stdout + r.stderr  # it could read CONFIG GET save/appendonly
    assert c.info()["ids_issued"] == 20003


def test_config_get(start_id, tmp_path):
    _, c, _ = start_id(6, 7)
    assert c.config_get("worker") == {"worker": "7"}
    everything = c.config_get("*")
    assert everything["datacenter"] == "6" and everything["bits"] == "41/5/5/12"
    assert everything["dir"] == str(tmp_path) and everything["appendonly"] == "no"
    assert c.config_get("nothing*") == {}
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("worker", "3")
    assert "only CONFIG GET" in str(e.value)


def test_http_api(start_id):
    _, c, http = start_id(4, 9)
    base = "http://%s" % http
    one = requests.get(base + "/id", timeout=5).json()["id"]
    assert one.isdigit()
    ids = requests.get(base + "/id?count=5", timeout=5).json()["ids"]
    assert len(ids) == 5 and all(int(b) > int(a) for a, b in zip(ids, ids[1:]))
    assert int(ids[0]) > int(one)
    parsed = requests.get(base + "/id/" + one, timeout=5).json()
    assert parsed["datacenter"] == 4 and parsed["worker"] == 9 and parsed["id"] == one
    assert parsed["time"].endswith("Z") and parsed["timestamp_ms"] == parse(c, int(one))[
        "timestamp_ms"]
    for path, code in (("/id?count=0", 400), ("/id?count=100001", 400), ("/id?n=3", 400),
                       ("/id/abc", 400), ("/id/99999999999999999999", 400), ("/nope", 404)):
        r = requests.get(base + path, timeout=5)
        assert r.status_code == code, path
        if code == 400:
            assert "error" in r.json()
    assert requests.post(base + "/id", timeout=5).status_code == 405
    m = requests.get(base + "/metrics", timeout=5).text
    assert 'strata_id_issued_total{kind="snowflake"} 6' in m
    assert "strata_id_clock_refusals_total 0" in m


def test_custom_layout_and_epoch(start_id):
    _, c, _ = start_id(0, 700, "--bits", "42/0/10/11", "--epoch", "2024-01-01T00:00:00Z")
    i = c.execute_command("ID.NEXT")
    f = parse(c, i)
    assert f["worker"] == 700 and f["datacenter"] == 0
    assert i >> 21 == f["timestamp_ms"] - 1704067200000
    assert c.info()["max_ids_per_ms"] == 2048 and c.info()["bits"] == "42/0/10/11"


def test_config_file(procs, tmp_path, tmp_conf):
    listen = free_addr()
    path = tmp_conf("[id]\nlisten = %s\ndatacenter = 2\nworker = 5\ndir = %s\ntolerance = 10ms\n"
                    % (listen, tmp_path))
    p = procs.start([STRATA, "id", "-c", path], "id")
    wait_listening(listen, proc=p)
    host, port = split_addr(listen)
    c = redis.Redis(host=host, port=port, socket_timeout=10)
    f = parse(c, c.execute_command("ID.NEXT"))
    assert f["datacenter"] == 2 and f["worker"] == 5
    assert c.info()["tolerance_ms"] == 10


@pytest.mark.parametrize("args,needle", [
    (["-d", "1", "-w", "1"], "--listen ADDR:PORT is required"),
    (["--listen", "127.0.0.1:1", "-w", "1"], "--datacenter and --worker are required"),
    (["--listen", "127.0.0.1:1", "-d", "32", "-w", "1"], "does not fit"),
    (["--listen", "127.0.0.1:1", "-d", "1", "-w", "1", "--bits", "41/5/5/11"], "add up to 63"),
    (["--listen", "127.0.0.1:1", "-d", "1", "-w", "1", "--bits", "x"], "--bits"),
    (["--listen", "127.0.0.1:1", "-d", "1", "-w", "1", "--epoch", "yesterday"], "--epoch"),
    (["--listen", "nowhere", "-d", "1", "-w", "1"], "--listen"),
    (["--listen", "127.0.0.1:1", "-d", "-1", "-w", "1"], "--datacenter"),
    (["--listen", "127.0.0.1:1", "-d", "1", "-w", "1", "--tolerance", "1h"], "--tolerance"),
    (["--listen", "127.0.0.1:1", "-d", "1", "-w", "1", "--bogus"], "bogus"),
    (["--listen", "127.0.0.1:1", "-d", "1", "-w", "1", "extra"], "unexpected argument"),
])
def test_bad_flags(args, needle, tmp_path):
    r = run_strata(["id"] + args + ["--dir", tmp_path])
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("strata id: ")
    assert needle in r.stderr, r.stderr


def test_bad_config_file(tmp_conf, tmp_path):
    for text, needle in (("[id]\nworkers = 3\n", ":2: unknown key 'workers'"),
                         ("[lb]\nworker = 3\n", "expected [id]"),
                         ("listen = 127.0.0.1:1\ndatacenter = x\n", ":2: datacenter")):
        r = run_strata(["id", "-c", tmp_conf(text)])
        assert r.returncode == 2 and needle in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1
