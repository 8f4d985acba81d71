"""strata ratelimit bench: every algorithm measured, JSON fields, bad arguments."""

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
        # 1000/s with a burst of 1000, one decision per microsecond for 20 ms:
        # the burst and the refill of 20 ms pass, no more.
        assert x["allowed_share"] == pytest.approx(1020 / 20000, abs=0.002) or x["algo"] in (
            "fixed", "log", "sliding")


def test_bench_table():
    r = run_strata(["ratelimit", "bench", "--algo", "gcra", "--decisions", "10000"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["algo", "single/s", "table/s"] and len(lines) == 2
    assert lines[1].startswith("gcra ")


@pytest.mark.parametrize("args,needle", [
    ([], "usage"),
    (["compare"], "unknown subcommand 'compare'"),
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
