"""strata kv (memory engine) driven by redis-py, redis-cli, redis-benchmark and
raw sockets: command semantics and their edge cases with Redis's replies and
errors, expiry, eviction under maxmemory by each policy, RESP3, AUTH, and
malformed input that closes only its connection with every other client and
all data intact."""

import signal
import socket
import subprocess
import time

import pytest
import redis

from conftest import STRATA, free_addr, run_strata, split_addr, wait_listening, wait_until


@pytest.fixture
def start_kv(procs):
    """start_kv(*flags) -> (proc, redis.Redis bytes client, addr)."""

    def start(*flags):
        addr = free_addr()
        p = procs.start([STRATA, "kv", "--listen", addr] + [str(f) for f in flags], "kv")
        wait_listening(addr, proc=p)
        host, port = split_addr(addr)
        return p, redis.Redis(host=host, port=port, socket_timeout=10), addr

    return start


@pytest.fixture
def kv(start_kv):
    return start_kv()[1]


def error_of(c, *args):
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def test_set_and_its_options(kv):
    assert kv.set("k", "v") is True and kv.get("k") == b"v"
    assert kv.execute_command("SET", "k", "w", "NX") is None and kv.get("k") == b"v"
    assert kv.execute_command("SET", "new", "w", "XX") is None and not kv.exists("new")
    # (redis-py maps SET's reply to a bool unless get=True)
    assert kv.set("k", "w", xx=True, get=True) == b"v" and kv.get("k") == b"w"
    assert kv.set("none", "x", get=True) is None and kv.get("none") == b"x"
    assert kv.set("k", "z", nx=True, get=True) == b"w" and kv.get("k") == b"w"
    kv.execute_command("SET", "t", "1", "EX", "100")
    assert 99 <= kv.ttl("t") <= 100
    kv.execute_command("SET", "t", "2", "KEEPTTL")
    assert 99 <= kv.ttl("t") <= 100 and kv.get("t") == b"2"
    kv.execute_command("SET", "t", "3")
    assert kv.ttl("t") == -1
    kv.execute_command("SET", "p", "1", "PX", "100000")
    assert 99000 < kv.pttl("p") <= 100000
    at = int(time.time()) + 50
    kv.execute_command("SET", "e", "1", "EXAT", at)
    assert kv.execute_command("EXPIRETIME", "e") == at
    kv.execute_command("SET", "e", "1", "PXAT", at * 1000 + 5)
    assert kv.execute_command("PEXPIRETIME", "e") == at * 1000 + 5
    for args in (["NX", "XX"], ["EX", "10", "PX", "10"], ["EX", "10", "KEEPTTL"], ["EX"],
                 ["BOGUS"], ["KEEPTTL", "EX", "1"]):
        assert error_of(kv, "SET", "k", "v", *args) == "syntax error", args
    for bad in ("0", "-1", "9223372036854775807"):
        assert error_of(kv, "SET", "k", "v", "EX", bad) == "invalid expire time in 'set' command"
    assert error_of(kv, "SET", "k", "v", "EX", "x") == "value is not an integer or out of range"
    assert kv.get("k") == b"w"  # refused commands changed nothing


def test_string_commands(kv):
    assert kv.setnx("a", "1") is True and kv.setnx("a", "2") is False
    assert kv.setex("s", 100, "v") is True and 99 <= kv.ttl("s") <= 100
    assert kv.psetex("s", 5000, "v") is True and 4000 < kv.pttl("s") <= 5000
    assert error_of(kv, "SETEX", "s", 0, "v") == "invalid expire time in 'setex' command"
    assert error_of(kv, "PSETEX", "s", -5, "v") == "invalid expire time in 'psetex' command"
    assert kv.getset("a", "3") == b"1" and kv.getset("fresh", "x") is None
    assert kv.getdel("a") == b"3" and kv.get("a") is None and kv.getdel("a") is None
    kv.set("g", "v")
    assert kv.execute_command("GETEX", "g", "EX", 100) == b"v" and 99 <= kv.ttl("g") <= 100
    assert kv.execute_command("GETEX", "g", "PERSIST") == b"v" and kv.ttl("g") == -1
    assert kv.execute_command("GETEX", "nope") is None
    assert error_of(kv, "GETEX", "g", "EX") == "syntax error"
    assert kv.mset({"m1": "1", "m2": "2"}) is True
    assert kv.mget("m1", "missing", "m2") == [b"1", None, b"2"]
    assert error_of(kv, "MSET", "a", "1", "b") == "wrong number of arguments for 'mset' command"
    assert kv.msetnx({"m3": "3", "m1": "x"}) is False and kv.get("m3") is None
    assert kv.msetnx({"m3": "3", "m4": "4"}) is True
    assert kv.append("ap", "Hello") == 5 and kv.append("ap", " World") == 11
    assert kv.strlen("ap") == 11 and kv.strlen("missing") == 0
    assert kv.getrange("ap", 0, 4) == b"Hello" and kv.getrange("ap", -5, -1) == b"World"
    assert kv.getrange("ap", 5, 2) == b"" and kv.getrange("ap", 0, 100) == b"Hello World"
    assert kv.getrange("missing", 0, 10) == b""
    assert kv.setrange("sr", 5, "x") == 6 and kv.get("sr") == b"\0\0\0\0\0x"
    assert kv.setrange("ap", 6, "Redis") == 11 and kv.get("ap") == b"Hello Redis"
    assert kv.setrange("empty", 3, "") == 0 and not kv.exists("empty")
    assert error_of(kv, "SETRANGE", "ap", -1, "x") == "offset is out of range"
    assert "exceeds maximum allowed size" in error_of(kv, "SETRANGE", "ap", 600 * 1024 * 1024,
                                                      "x")


def test_counters(kv):
    assert kv.incr("c") == 1 and kv.incrby("c", 10) == 11 and kv.decr("c") == 10
    assert kv.decrby("c", 20) == -10
    kv.set("big", str(2 ** 63 - 1))
    assert error_of(kv, "INCR", "big") == "increment or decrement would overflow"
    kv.set("small", str(-2 ** 63))
    assert error_of(kv, "DECR", "small") == "increment or decrement would overflow"
    assert error_of(kv, "DECRBY", "c", str(-2 ** 63)) == "decrement would overflow"
    for v in ("abc", " 1", "1 ", "01", "1.5", "", "99999999999999999999"):
        kv.set("bad", v)
        assert error_of(kv, "INCR", "bad") == "value is not an integer or out of range", v
    assert error_of(kv, "INCRBY", "c", "x") == "value is not an integer or out of range"
    kv.set("f", "10.50")
    assert kv.incrbyfloat("f", 0.1) == 10.6 and kv.get("f") == b"10.6"
    kv.incrbyfloat("f", -5.6)
    kv.incrbyfloat("f2", 5.0e3)
    assert kv.get("f") == b"5" and kv.get("f2") == b"5000"
    assert error_of(kv, "INCRBYFLOAT", "f", "abc") == "value is not a valid float"
    assert error_of(kv, "INCRBYFLOAT", "f", "nan") == "value is not a valid float"
    assert error_of(kv, "INCRBYFLOAT", "f", "inf") == "increment would produce NaN or Infinity"
    assert kv.get("f") == b"5"
    kv.setex("ttl", 100, "5")
    kv.incr("ttl")
    assert 99 <= kv.ttl("ttl") <= 100  # INCR keeps the TTL


def test_keys_and_expiry(kv):
    kv.mset({"a": "1", "b": "2", "c": "3"})
    assert kv.delete("a", "a", "missing") == 1 and kv.unlink("b") == 1
    assert kv.exists("c", "c", "missing") == 2
    assert kv.type("c") == b"string" and kv.type("missing") == b"none"
    assert error_of(kv, "RENAME", "missing", "x") == "no such key"
    kv.expire("c", 100)
    assert kv.rename("c", "d") is True and kv.get("d") == b"3" and 99 <= kv.ttl("d") <= 100
    assert kv.rename("d", "d") is True and kv.get("d") == b"3"
    kv.set("e", "5")
    assert kv.renamenx("d", "e") is False and kv.renamenx("d", "f") is True
    # EXPIRE's options (Redis 7): no TTL counts as infinite.
    kv.set("x", "1")
    assert kv.execute_command("EXPIRE", "x", 100, "XX") == 0
    assert kv.execute_command("EXPIRE", "x", 100, "GT") == 0
    assert kv.execute_command("EXPIRE", "x", 100, "LT") == 1
    assert kv.execute_command("EXPIRE", "x", 200, "NX") == 0
    assert kv.execute_command("EXPIRE", "x", 200, "GT") == 1 and kv.ttl("x") > 150
    assert kv.execute_command("EXPIRE", "x", 50, "LT") == 1 and kv.ttl("x") <= 50
    assert "not compatible" in error_of(kv, "EXPIRE", "x", 10, "NX", "XX")
    assert "not compatible" in error_of(kv, "EXPIRE", "x", 10, "GT", "LT")
    assert error_of(kv, "EXPIRE", "x", "9223372036854775807") == \
        "invalid expire time in 'expire' command"
    assert kv.expire("missing", 10) is False
    assert kv.persist("x") is True and kv.ttl("x") == -1 and kv.persist("x") is False
    assert kv.ttl("missing") == -2 and kv.pttl("missing") == -2
    assert kv.execute_command("EXPIRETIME", "x") == -1
    assert kv.expire("x", -1) is True and not kv.exists("x")  # a past time deletes
    assert kv.execute_command("PEXPIREAT", "e", int(time.time() * 1000) + 100000) == 1
    # Lazy expiry (read) and active expiry (nobody reads).
    kv.set("soon", "1", px=100)
    for i in range(200):
        kv.set("gone:%d" % i, "v", px=100)
    time.sleep(0.25)
    assert kv.get("soon") is None
    wait_until(lambda: kv.dbsize() == 2, 5, "active expiry of 200 keys")  # e and f remain
    assert kv.info("stats")["expired_keys"] >= 201


def test_keys_scan_randomkey_flush(kv):
    kv.mset({"user:%d" % i: i for i in range(500)})
    kv.mset({"h[ello]": 1, "hallo": 2, "hxllo": 3, "hllo": 4})
    assert len(kv.keys("user:*")) == 500
    assert sorted(kv.keys("h?llo")) == [b"hallo", b"hxllo"]
    assert sorted(kv.keys("h[ae]llo")) == [b"hallo"] and kv.keys("h\\[ello\\]") == [b"h[ello]"]
    assert sorted(kv.keys("h[^a]llo")) == [b"hxllo"]
    seen, cursor, calls = set(), 0, 0
    while True:
        cursor, keys = kv.scan(cursor, match="user:*", count=50)
        seen.update(keys)
        calls += 1
        if cursor == 0:
            break
    assert len(seen) == 500 and calls > 2
    assert kv.scan(0, _type="hash") == (0, []) or kv.scan(0, _type="hash")[1] == []
    assert kv.randomkey() is not None and kv.dbsize() == 504
    assert error_of(kv, "SCAN", "x") == "invalid cursor"
    assert kv.execute_command("SELECT", 0) is True
    assert error_of(kv, "SELECT", 1) == "DB index is out of range"
    assert kv.execute_command("FUNCTION", "FLUSH") == b"OK"
    assert kv.flushall() is True and kv.dbsize() == 0 and kv.randomkey() is None
    assert kv.flushdb() is True


def test_binary_safe_and_large_values(kv):
    key, val = b"k\x00\r\n\xff", bytes(range(256)) * 4096  # 1 MiB
    kv.set(key, val)
    assert kv.get(key) == val and kv.strlen(key) == len(val)
    assert kv.keys(b"k\x00*") == [key]


def test_values_up_to_the_configured_maximum(start_kv):
    _, c, addr = start_kv("--proto-max-bulk-len", "64kb")
    c.set("ok", b"x" * 65536)
    assert c.strlen("ok") == 65536
    s = socket.create_connection(split_addr(addr), timeout=5)
    s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$65537\r\n")
    assert s.recv(200) == b"-ERR Protocol error: invalid bulk length\r\n"
    s.close()
    assert c.exists("big") == 0 and c.strlen("ok") == 65536
    assert "exceeds maximum allowed size" in error_of(c, "APPEND", "ok", "y")


@pytest.mark.parametrize("garbage,error", [
    (b"*2\r\n$3\r\nGET\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*2\r\n$3\r\nGET\r\n$2147483648\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n+OK\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
    (b"*-1x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*99999999999\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
])
def test_malformed_input_closes_only_that_connection(start_kv, garbage, error):
    p, c, addr = start_kv()
    c.set("keep", "me")
    other = socket.create_connection(split_addr(addr), timeout=5)
    s = socket.create_connection(split_addr(addr), timeout=5)
    s.sendall(garbage)
    assert s.recv(200) == error
    assert s.recv(10) == b""
    s.close()
    other.sendall(b"*2\r\n$3\r\nGET\r\n$4\r\nkeep\r\n")
    assert other.recv(100) == b"$2\r\nme\r\n"
    other.close()
    assert c.get("keep") == b"me" and p.alive()


def test_unterminated_bulk_and_binary_garbage(start_kv):
    p, c, addr = start_kv()
    c.set("keep", "me")
    s = socket.create_connection(split_addr(addr), timeout=5)
    s.sendall(b"*2\r\n$3\r\nGET\r\n$100\r\nabc")  # then the client goes away
    s.close()
    g = socket.create_connection(split_addr(addr), timeout=5)
    g.sendall(bytes(range(256)) * 8)
    g.settimeout(5)
    data = g.recv(4096)
    assert data.startswith(b"-ERR")
    g.close()
    assert c.get("keep") == b"me" and p.alive()


def test_unknown_commands_and_arity_keep_the_connection(kv):
    assert "unknown command 'NOPE', with args beginning with: 'a'" in error_of(kv, "NOPE", "a")
    assert error_of(kv, "GET") == "wrong number of arguments for 'get' command"
    assert error_of(kv, "GET", "a", "b") == "wrong number of arguments for 'get' command"
    assert kv.ping() is True and kv.echo("hi") == b"hi"


def test_resp3_after_hello(start_kv):
    _, c, addr = start_kv()
    s = socket.create_connection(split_addr(addr), timeout=5)
    s.sendall(b"HELLO 3\r\n")
    time.sleep(0.2)
    hello = s.recv(4096)
    assert hello.startswith(b"%7\r\n") and b"proto\r\n:3\r\n" in hello
    s.sendall(b"GET missing\r\nCONFIG GET maxmemory\r\n")
    time.sleep(0.2)
    assert s.recv(4096) == b"_\r\n%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    s.sendall(b"HELLO 4\r\n")
    assert s.recv(4096) == b"-NOPROTO unsupported protocol version\r\n"
    s.close()
    r3 = redis.Redis(host=split_addr(addr)[0], port=split_addr(addr)[1], protocol=3) \
        if "protocol" in redis.Redis.__init__.__code__.co_varnames else None
    if r3 is not None:
        assert r3.get("missing") is None


def test_requirepass(start_kv):
    _, c, addr = start_kv("--requirepass", "s3cret")
    with pytest.raises(redis.RedisError) as e:
        c.get("a")
    assert "Authentication required" in str(e.value)
    assert "WRONGPASS invalid username-password pair" in error_of(c, "AUTH", "wrong")
    assert "WRONGPASS invalid username-password pair" in error_of(c, "AUTH", "alice", "s3cret")
    host, port = split_addr(addr)
    good = redis.Redis(host=host, port=port, password="s3cret")
    assert good.set("a", "1") is True and good.get("a") == b"1"
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"HELLO 3 AUTH default s3cret\r\n")
    time.sleep(0.2)
    assert s.recv(4096).startswith(b"%7\r\n")
    s.close()
    cli = subprocess.run(["redis-cli", "-h", host, "-p", str(port), "--no-auth-warning", "-a",
                          "s3cret", "GET", "a"], capture_output=True, text=True, timeout=10)
    assert cli.stdout.strip() == "1"


def test_auth_without_a_password(kv):
    assert "without any password configured" in error_of(kv, "AUTH", "x")
    # As Redis: the default user takes any password while none is set.
    assert kv.execute_command("AUTH", "default", "anything") is True


def test_config_get_set(kv):
    assert kv.config_get("maxmemory*") == {"maxmemory": "0", "maxmemory-policy": "noeviction",
                                            "maxmemory-samples": "5"}
    assert kv.config_set("maxmemory", "10mb") is True
    assert kv.config_get("maxmemory")["maxmemory"] == str(10 * 1024 * 1024)
    assert kv.config_set("maxmemory-policy", "allkeys-lru") is True
    assert kv.info("memory")["maxmemory_policy"] == "allkeys-lru"
    assert "Unknown option" in error_of(kv, "CONFIG", "SET", "nope", "1")
    assert "CONFIG SET failed" in error_of(kv, "CONFIG", "SET", "maxmemory-policy", "random")
    assert kv.config_get("save") == {"save": ""} and kv.config_get("appendonly") == \
        {"appendonly": "no"}
    kv.get("missing")
    assert kv.execute_command("CONFIG", "RESETSTAT") == b"OK"
    stats = kv.info("stats")
    assert stats["keyspace_misses"] == 0 and stats["total_commands_processed"] <= 1
    info = kv.info()
    for k in ("redis_version", "connected_clients", "used_memory", "maxmemory",
              "total_commands_processed", "keyspace_hits", "evicted_keys"):
        assert k in info, k


def fill(c, n, prefix="k", size=100, ttl=None):
    p = c.pipeline(transaction=False)
    for i in range(n):
        if ttl:
            p.set("%s:%d" % (prefix, i), b"x" * size, ex=ttl(i))
        else:
            p.set("%s:%d" % (prefix, i), b"x" * size)
        if i % 1000 == 999:
            p.execute()
    p.execute()


def test_noeviction_refuses_writes_but_serves_reads(start_kv):
    _, c, _ = start_kv("--maxmemory", "1mb")
    with pytest.raises(redis.ResponseError) as e:
        fill(c, 20000)
    assert "OOM command not allowed when used memory > 'maxmemory'" in str(e.value)
    assert c.info("memory")["used_memory"] <= 1024 * 1024 + 300
    assert c.get("k:0") == b"x" * 100 and c.delete("k:0") == 1  # reads and deletes still work
    # CL.THROTTLE keeps its own bounded table: not refused, evicts nothing.
    assert c.execute_command("CL.THROTTLE", "u", 1, 1, 60)[0] == 0


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-fifo"])
def test_eviction_keeps_memory_under_the_bound(start_kv, policy):
    _, c, _ = start_kv("--maxmemory", "2mb", "--maxmemory-policy", policy)
    # A hot set read all along (LRU, LFU keep it), written first (FIFO drops it).
    fill(c, 100, prefix="hot")
    for rnd in range(20):
        fill(c, 1000, prefix="cold%d" % rnd)
        for _ in range(3 if policy == "allkeys-lfu" else 1):
            c.mget(["hot:%d" % i for i in range(100)])
        assert c.info("memory")["used_memory"] <= 2 * 1024 * 1024
    info = c.info()
    assert info["evicted_keys"] > 5000
    hot = sum(c.exists("hot:%d" % i) for i in range(100))
    newest = sum(c.exists("cold19:%d" % i) for i in range(100))
    if policy == "allkeys-fifo":
        assert hot < 12 and newest > 80, (hot, newest)  # sampled: about 4 survive
    else:
        assert hot > 80, hot


def test_eviction_with_one_sample_never_refuses(start_kv):
    # One key per sample: a window of empty buckets is looked past.
    _, c, _ = start_kv("--maxmemory", "1mb", "--maxmemory-policy", "allkeys-lru",
                       "--maxmemory-samples", "1")
    for _ in range(3):
        fill(c, 10000)
        c.flushall()  # an empty pool again
    fill(c, 10000)
    assert c.info("memory")["used_memory"] <= 1024 * 1024
    assert c.info()["evicted_keys"] > 10000


def test_volatile_ttl_evicts_only_keys_with_a_ttl_nearest_first(start_kv):
    _, c, _ = start_kv("--maxmemory", "2mb", "--maxmemory-policy", "volatile-ttl")
    fill(c, 3000, prefix="keep")
    fill(c, 20000, prefix="ttl", ttl=lambda i: 100000 - i)  # later keys expire sooner
    assert c.info("memory")["used_memory"] <= 2 * 1024 * 1024
    assert all(c.exists("keep:%d" % i) for i in range(0, 3000, 97))
    early = sum(c.exists("ttl:%d" % i) for i in range(100))
    assert early > 50  # the far-from-expiring ones stay longer
    c.flushall()
    fill(c, 30000 // 3, prefix="only")
    with pytest.raises(redis.ResponseError) as e:
        fill(c, 30000, prefix="more")  # nothing with a TTL to evict: refused
    assert "OOM command not allowed" in str(e.value)


def test_redis_cli_and_redis_benchmark(start_kv):
    _, c, addr = start_kv()
    host, port = split_addr(addr)
    out = subprocess.run(["redis-cli", "-h", host, "-p", str(port), "SET", "a", "b"],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "OK"
    r = subprocess.run(["redis-benchmark", "-h", host, "-p", str(port), "-t", "set,get,incr",
                        "-n", "20000", "-P", "16", "-q"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.count("requests per second") == 3
    assert "WARNING" not in r.stdout + r.stderr
    assert c.get("counter:__rand_int__") == b"20000"


def test_threads_serve_clients_in_parallel_and_commands_stay_atomic(start_kv):
    import threading
    _, c, addr = start_kv("--threads", "4")
    host, port = split_addr(addr)

    def work():
        w = redis.Redis(host=host, port=port, socket_timeout=10)
        for _ in range(500):
            w.incr("counter")
            w.append("log", "x")

    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert c.get("counter") == b"4000" and c.strlen("log") == 4000
    others = [redis.Redis(host=host, port=port) for _ in range(3)]
    assert all(o.ping() for o in others)
    assert c.info("clients")["connected_clients"] >= 4  # counted across the threads
    r = subprocess.run(["redis-benchmark", "-h", host, "-p", str(port), "-t", "set,get",
                        "-n", "20000", "-c", "20", "-q"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.count("requests per second") == 2


def test_cl_throttle(kv):
    assert kv.execute_command("CL.THROTTLE", "user123", 15, 30, 60, 1) == [0, 16, 15, -1, 2]


@pytest.mark.parametrize("args,needle", [
    (["--engine", "disk"], "--engine"),
    (["--maxmemory-policy", "random"], "--maxmemory-policy"),
    (["--maxmemory", "lots"], "--maxmemory"),
    (["--threads", "0"], "--threads"),
    (["--threads", "65"], "--threads"),
    (["--listen", "nowhere"], "--listen"),
    (["--protected-mode", "maybe"], "--protected-mode"),
    (["--bogus"], "bogus"),
])
def test_bad_flags(args, needle):
    r = run_strata(["kv", "--listen", free_addr()] + args)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("strata kv: ")
    assert needle in r.stderr


# ---- the lmdb engine ----

@pytest.fixture
def start_lmdb(procs, tmp_path):
    """start_lmdb(*flags, dir=tmp) -> (proc, client, addr) of --engine lmdb."""

    def start(*flags, dir=None, addr=None):
        addr = addr or free_addr()
        p = procs.start([STRATA, "kv", "--listen", addr, "--engine", "lmdb", "--dir",
                         dir or tmp_path / "db"] + [str(f) for f in flags], "kv lmdb")
        wait_listening(addr, proc=p)
        host, port = split_addr(addr)
        return p, redis.Redis(host=host, port=port, socket_timeout=10), addr

    return start


@pytest.mark.parametrize("fsync", ["always", "everysec", "no"])
def test_lmdb_restart_recovers_data_and_ttls(start_lmdb, fsync):
    p, c, addr = start_lmdb("--fsync", fsync)
    c.mset({"k%d" % i: "v%d" % i for i in range(1000)})
    c.set("ttl", "x", ex=100)
    c.set("short", "x", px=300)
    c.set(b"bin\x00\r\n", bytes(range(256)))
    c.incr("counter")
    c.append("k1", "+")
    c.delete("k2")
    c.rename("k3", "k3b")
    p.signal(15)
    p.wait(10)
    time.sleep(0.4)  # "short" expires while the server is down
    p, c, _ = start_lmdb("--fsync", fsync, addr=addr)
    assert c.dbsize() == 1000 - 1 + 3  # k2 gone, ttl, counter, bin (short expired)
    assert c.get("k0") == b"v0" and c.get("k1") == b"v1+" and c.get("k2") is None
    assert c.get("k3b") == b"v3" and c.get("k3") is None
    assert 95 <= c.ttl("ttl") <= 100 and c.get("short") is None
    assert c.get(b"bin\x00\r\n") == bytes(range(256)) and c.get("counter") == b"1"
    assert c.info("persistence")["fsync"] == fsync


def test_lmdb_acknowledged_writes_survive_sigkill_20_times(start_lmdb):
    """--fsync always: a writer sends SET after SET while the server is
    killed with SIGKILL at a random moment; after each restart every write
    that was acknowledged is there."""
    import random
    import threading
    acked = {}
    addr = free_addr()
    n = 0
    for rep in range(20):
        p, c, _ = start_lmdb("--fsync", "always", addr=addr)
        for k, v in list(acked.items())[-200:] + random.sample(list(acked.items()),
                                                                 min(200, len(acked))):
            assert c.get(k) == v, (rep, k)
        assert c.dbsize() >= len(acked)
        stop = threading.Event()

        def write():
            nonlocal n
            w = redis.Redis(host=split_addr(addr)[0], port=split_addr(addr)[1], socket_timeout=5)
            while not stop.is_set():
                k, v = "key:%d" % n, b"value:%d" % n
                try:
                    w.set(k, v)
                except redis.RedisError:
                    return
                acked[k] = v
                n += 1

        t = threading.Thread(target=write)
        t.start()
        before = len(acked)
        wait_until(lambda: len(acked) >= before + 10, 10, "ten acknowledged writes")
        time.sleep(random.uniform(0, 0.15))
        p.kill()
        stop.set()
        t.join(10)
    p, c, _ = start_lmdb("--fsync", "always", addr=addr)
    assert len(acked) > 100
    missing = [k for k, v in acked.items() if c.get(k) != v]
    assert missing == []


def test_lmdb_log_replayed_whatever_the_next_mode(start_lmdb, tmp_path):
    """A write-ahead log left by a SIGKILL is replayed at the next start,
    even one with --fsync no; a log that ends in garbage keeps its whole
    records, and the file is kept aside for a look."""
    addr = free_addr()
    p, c, _ = start_lmdb("--fsync", "always", addr=addr)
    wal = tmp_path / "db" / "wal"
    n = 0
    while n < 20 or wal.stat().st_size == 0:  # caught between checkpoints
        c.set("k%d" % n, "v%d" % n)
        n += 1
    p.kill()
    p.wait(10)
    p, c, _ = start_lmdb("--fsync", "no", addr=addr)
    assert [c.get("k%d" % i) for i in range(n)] == [b"v%d" % i for i in range(n)]
    c.set("last", "1")
    p.signal(signal.SIGTERM)
    p.wait(10)
    with open(wal, "ab") as f:
        f.write(b"\x40\x00\x00\x00garbage after the last record")
    p, c, _ = start_lmdb("--fsync", "everysec", addr=addr)
    p.wait_log("bytes that are not whole records")
    assert c.dbsize() == n + 1 and c.get("last") == b"1"
    assert list((tmp_path / "db").glob("wal.damaged-*"))


def test_lmdb_flush_eviction_and_limits(start_lmdb):
    p, c, addr = start_lmdb("--maxmemory", "1mb", "--maxmemory-policy", "allkeys-lru")
    fill(c, 20000)
    kept = c.dbsize()
    assert 0 < kept < 20000
    assert "key too long for the lmdb engine" in error_of(c, "SET", "k" * 600, "v")
    # MSET and MSETNX are all or nothing: a key too long refuses every pair.
    for cmd in ("MSET", "MSETNX"):
        assert "key too long" in error_of(c, cmd, "short", "1", "k" * 600, "2")
        assert c.exists("short") == 0
    p.signal(15)
    p.wait(10)
    p, c, _ = start_lmdb("--maxmemory", "1mb", "--maxmemory-policy", "allkeys-lru", addr=addr)
    assert c.dbsize() == kept  # evicted keys are gone from the disk too
    c.flushall()
    p.signal(15)
    p.wait(10)
    p, c, _ = start_lmdb(addr=addr)
    assert c.dbsize() == 0
    assert c.config_get("engine") == {"engine": "lmdb"}


def test_lmdb_bad_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("not a directory")
    r = run_strata(["kv", "--listen", free_addr(), "--engine", "lmdb", "--dir", f])
    assert r.returncode == 1 and "cannot open the lmdb store" in r.stderr


@pytest.mark.parametrize("fsync", ["always", "everysec", "no"])
def test_lmdb_full_disk_refuses_writes_and_keeps_serving(procs, tmp_path, fsync):
    """The store's directory on a 40 MB tmpfs (in a mount namespace the test
    creates): when the disk is full, writes get MISCONF - the server neither
    dies nor loses what it holds - and reads go on."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    addr = free_addr()
    script = ('mount -t tmpfs -o size=40m strata-test "$1" && shift && exec "$@"')
    p = procs.start(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                     mnt, STRATA, "kv", "--listen", addr, "--engine", "lmdb", "--dir",
                     mnt / "db", "--fsync", fsync], "kv lmdb on tmpfs")
    wait_listening(addr, proc=p)
    host, port = split_addr(addr)
    c = redis.Redis(host=host, port=port, socket_timeout=20)
    value = b"v" * 100000
    stored = 0
    # The write whose commit fails loses its connection (its reply would
    # claim a write that is not on disk); the writes after it get MISCONF.
    with pytest.raises(redis.ConnectionError):
        for i in range(1000):  # 100 MB: more than the disk holds
            c.set("k%d" % i, value)
            stored = i + 1
    with pytest.raises(redis.ResponseError) as e:
        c.set("one-more", "x")
    assert str(e.value).startswith("MISCONF strata kv cannot write to its lmdb store")
    assert 100 < stored <= 420  # at most 40 MB of 100 KB values
    assert p.alive() and c.ping()
    assert all(c.get("k%d" % i) == value for i in range(0, stored, 7))
    assert c.info("persistence")["lmdb_last_error"]
    p.wait_log("cannot write to the lmdb store")


@pytest.fixture
def netns():
    """A network namespace joined to this one by a veth pair: yields
    (server address here, run(args) in the namespace). Skipped where
    namespaces cannot be made."""
    import os
    import random
    tag = "%x" % (os.getpid() & 0xffff)
    ns, a, b = "strata-kv-%s" % tag, "skva%s" % tag, "skvb%s" % tag
    net = "10.%d.%d" % (random.randint(200, 250), random.randint(0, 255))

    def ip(*args, ns_=None):
        cmd = (["ip", "netns", "exec", ns_] if ns_ else []) + ["ip"] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10)

    if ip("netns", "add", ns).returncode != 0:
        pytest.skip("cannot create a network namespace here")
    try:
        steps = [ip("link", "add", a, "type", "veth", "peer", "name", b),
                 ip("link", "set", b, "netns", ns),
                 ip("addr", "add", net + ".1/30", "dev", a), ip("link", "set", a, "up"),
                 ip("addr", "add", net + ".2/30", "dev", b, ns_=ns),
                 ip("link", "set", b, "up", ns_=ns)]
        assert all(s.returncode == 0 for s in steps), [s.stderr for s in steps]

        def run(args):
            return subprocess.run(["ip", "netns", "exec", ns] + args, capture_output=True,
                                  timeout=10)

        yield net + ".1", run
    finally:
        ip("link", "del", a)
        ip("netns", "del", ns)


def test_protected_mode_refuses_other_hosts_without_a_password(start_kv, procs, netns):
    host, run_in_ns = netns
    probe = ("import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 5);"
             "s.sendall(b'PING\\r\\n'); sys.stdout.write(s.recv(300).decode())")
    for flags, want in (([], "-DENIED strata kv is running in protected mode"),
                        (["--requirepass", "pw"], "-NOAUTH Authentication required."),
                        (["--protected-mode", "no"], "+PONG")):
        port = split_addr(free_addr())[1]
        addr = "%s:%d" % (host, port)
        p = procs.start([STRATA, "kv", "--listen", addr] + flags, "kv")
        wait_until(lambda: "memory engine on" in p.stderr(), 5, "kv up", proc=p)
        out = run_in_ns(["/usr/bin/python3", "-c", probe, host, str(port)])
        assert out.stdout.decode().startswith(want), (flags, out.stdout, out.stderr)
        p.kill()
