"""strata ratelimit bench and script: every algorithm measured, JSON fields, the store script as printed, bad arguments."""

import json

import pytest

from conftest import run_strata


def test_bench_json_every_algorithm():
    r = run_strata(["ratelimit", "bench", "--decisions", "20000", "--keys", "500", "--json"])
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["algo"] for x in rows] == ["token", "leaky", "fixed", "log", "sliding", "gcra"]
    for x in rows:
        assert set(x) == {"algo", "keys", "decisions", "single_per_s", "table_per_s",
                          "allowed_share"}
        assert x["keys"] == 500 and x["decisions"] == 20000
        assert x["single_per_s"] > 0 and x["table_per_s"] > 0
        # 1000/s with a burst of 1000, one decision per microsecond for 20 ms
        # inside one window: the buckets and GCRA pass the burst and the 20 ms
        # of refill; the windows pass the limit of the window, no more.
        expected = 1020 if x["algo"] in ("token", "leaky", "gcra") else 1000
        assert x["allowed_share"] == pytest.approx(expected / 20000, abs=0.0001), x


def test_bench_table():
    r = run_strata(["ratelimit", "bench", "--algo", "gcra", "--decisions", "10000"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["algo", "single/s", "table/s"] and len(lines) == 2
    assert lines[1].startswith("gcra ")


@pytest.mark.parametrize("args,needle", [
    ([], "usage"),
    (["judge"], "unknown subcommand 'judge'"),
    (["bench", "--algo", "bucket"], "--algo: 'bucket'"),
    (["bench", "--keys", "0"], "--keys: '0'"),
    (["bench", "--decisions", "10"], "--decisions: '10'"),
    (["bench", "--colour"], "unknown option '--colour'"),
    (["bench", "extra"], "unexpected argument 'extra'"),
])
def test_bad_arguments(args, needle):
    r = run_strata(["ratelimit"] + args)
    assert r.returncode == 2
    assert needle in r.stderr


def test_compare_json_and_what_it_shows(tmp_path):
    r = run_strata(["ratelimit", "compare", "--limit", "20", "--json"])
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 4 * 6
    by = {(x["trace"], x["algo"]): x for x in rows}
    for x in rows:
        assert set(x) == {"trace", "algo", "limit", "requests", "allowed", "denied",
                          "false_allow", "false_deny", "wrong_pct"}
        assert x["allowed"] + x["denied"] == x["requests"]
    # The log is the exact rule: never wrong.
    for trace in ("steady", "bursty", "many-keys", "window-edge"):
        log = by[(trace, "log")]
        assert log["false_allow"] == 0 and log["false_deny"] == 0
    # The fixed window lets both edge bursts through: half of them break the rule;
    # the sliding window counter and the log refuse exactly the second burst.
    edge = by[("window-edge", "fixed")]
    assert edge["denied"] == 0 and edge["false_allow"] == edge["requests"] // 2
    assert by[("window-edge", "sliding")]["allowed"] == by[("window-edge", "log")]["allowed"]
    # The same seed gives the same figures.
    again = run_strata(["ratelimit", "compare", "--limit", "20", "--json"])
    assert again.stdout == r.stdout


def test_compare_plot(tmp_path):
    png = tmp_path / "compare.png"
    r = run_strata(["ratelimit", "compare", "--limit", "10", "--plot", str(png)])
    assert r.returncode == 0, r.stderr
    if "gnuplot is not installed" not in r.stderr:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,needle", [
    (["compare", "--limit", "0"], "--limit: '0'"),
    (["compare", "--limit", "5000"], "--limit: '5000'"),
    (["compare", "--seed", "x"], "--seed: 'x'"),
    (["compare", "--frobnicate"], "unknown option '--frobnicate'"),
])
def test_compare_bad_arguments(args, needle):
    r = run_strata(["ratelimit"] + args)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.splitlines()) == 1


def test_script_prints_the_store_script_and_its_sha(start_redis):
    import hashlib
    script = run_strata(["ratelimit", "script"])
    sha = run_strata(["ratelimit", "script", "--sha"])
    assert script.returncode == 0 and sha.returncode == 0
    assert sha.stdout.strip() == hashlib.sha1(script.stdout.encode()).hexdigest()
    # It runs as printed: loaded into Redis, called as strata lb calls it.
    store = start_redis()
    assert store.cli("SCRIPT", "LOAD", script.stdout) == sha.stdout.strip()
    reply = store.cli("EVALSHA", sha.stdout.strip(), "1", "strata:rl:token:demo:me",
                      "token", "3", "60000000", "3", "1", "1")
    taken, remaining, retry, reset, delay = [int(x) for x in reply.split()]
    assert (taken, remaining, retry, delay) == (1, 2, 0, 0) and reset == 20000000
    bad = run_strata(["ratelimit", "script", "--lua"])
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1
