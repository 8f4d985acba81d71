"""`strata ring`: the consistent-hashing analysis tool, through its CLI."""

import json
import re
import shutil

import pytest

from conftest import run_strata

FIELDS = ["algo", "nodes", "vnodes", "keys", "min", "max", "mean", "stddev", "peak_to_mean",
          "moved", "ideal_moved", "lookup_ns", "memory_bytes"]
ALGOS = ["ring", "jump", "maglev", "rendezvous", "bounded"]


def ring_json(*args):
    r = run_strata(["ring", "--json"] + list(args), timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("algo", ALGOS)
def test_json_has_exactly_the_documented_fields(algo):
    doc = ring_json("--algo", algo, "--nodes", "10", "--keys", "20000", "--remove", "1")
    assert list(doc) == FIELDS
    assert doc["algo"] == algo and doc["nodes"] == 10 and doc["keys"] == 20000
    assert doc["min"] <= doc["mean"] <= doc["max"]
    assert doc["mean"] == pytest.approx(2000)
    assert doc["peak_to_mean"] == pytest.approx(doc["max"] / doc["mean"], rel=1e-3)
    assert doc["ideal_moved"] == 2000
    assert doc["moved"] > 0 and doc["lookup_ns"] > 0 and doc["memory_bytes"] > 0


def test_results_are_identical_across_runs():
    args = ["--algo", "ring", "--nodes", "7", "--keys", "50000", "--add", "2"]
    a, b = ring_json(*args), ring_json(*args)
    for f in ("min", "max", "mean", "stddev", "moved", "ideal_moved", "memory_bytes"):
        assert a[f] == b[f], f


def test_ring_moves_only_the_removed_nodes_keys():
    # with one node removed, the keys that move are exactly that node's keys:
    # compare with the per-node CSV of the same run
    doc = ring_json("--algo", "ring", "--nodes", "5", "--keys", "30000", "--remove", "1")
    r = run_strata(["ring", "--algo", "ring", "--nodes", "5", "--keys", "30000", "--remove",
                    "1", "--csv", "/dev/stdout"])
    rows = [line.split(",") for line in r.stdout.splitlines()
            if line.startswith("node-") and "," in line]
    removed = [int(row[2]) for row in rows if row[0] == "node-4"][0]
    assert doc["moved"] == removed


def test_bounded_loads_stay_under_the_bound():
    doc = ring_json("--algo", "bounded", "--vnodes", "8", "--nodes", "10", "--keys", "100000",
                    "--epsilon", "0.1")
    assert doc["max"] <= 11000
    plain = ring_json("--algo", "ring", "--vnodes", "8", "--nodes", "10", "--keys", "100000")
    assert plain["max"] > 11000   # the bound did something


def test_table_agrees_with_json():
    args = ["--algo", "maglev", "--nodes", "6", "--keys", "60000", "--add", "1"]
    doc = ring_json(*args)
    r = run_strata(["ring"] + args)
    assert r.returncode == 0
    m = re.search(r"min (\d+)\s+mean ([\d.]+)\s+max (\d+)", r.stdout)
    assert m and int(m.group(1)) == doc["min"] and int(m.group(3)) == doc["max"]
    assert "moved %d keys" % doc["moved"] in r.stdout
    assert "ideal %d" % doc["ideal_moved"] in r.stdout


def test_weights_shift_the_load():
    r = run_strata(["ring", "--algo", "rendezvous", "--nodes", "2", "--weights", "1,3",
                    "--keys", "40000", "--csv", "/dev/stdout"])
    rows = {row.split(",")[0]: int(row.split(",")[2]) for row in r.stdout.splitlines()
            if row.startswith("node-") and "," in row}
    assert 0.70 < rows["node-1"] / 40000 < 0.80


@pytest.mark.skipif(not shutil.which("gnuplot"), reason="gnuplot not installed")
def test_plot_draws_a_png(tmp_path):
    out = tmp_path / "load.png"
    r = run_strata(["ring", "--algo", "ring", "--nodes", "8", "--keys", "10000", "--plot", out])
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, needle", [
    ([], "--algo"),
    (["--algo", "ketama", "--nodes", "3", "--keys", "9"], "--algo: 'ketama'"),
    (["--algo", "ring", "--keys", "9"], "--nodes"),
    (["--algo", "ring", "--nodes", "3"], "--keys"),
    (["--algo", "ring", "--nodes", "0", "--keys", "9"], "--nodes: '0'"),
    (["--algo", "ring", "--nodes", "x", "--keys", "9"], "--nodes: 'x'"),
    (["--algo", "ring", "--nodes", "3", "--keys", "-5"], "--keys: '-5'"),
    (["--algo", "ring", "--nodes", "3", "--keys", "9", "--vnodes", "0"], "--vnodes"),
    (["--algo", "ring", "--nodes", "3", "--keys", "9", "--weights", "1,2"], "2 weights for 3"),
    (["--algo", "ring", "--nodes", "2", "--keys", "9", "--weights", "1,0"], "--weights: '0'"),
    (["--algo", "ring", "--nodes", "2", "--keys", "9", "--weights", "1,,2"], "--weights"),
    (["--algo", "jump", "--nodes", "2", "--keys", "9", "--weights", "1,2"], "equal nodes"),
    (["--algo", "bounded", "--nodes", "3", "--keys", "9", "--epsilon", "0"], "--epsilon"),
    (["--algo", "bounded", "--nodes", "3", "--keys", "9", "--epsilon", "abc"], "--epsilon"),
    (["--algo", "maglev", "--nodes", "3", "--keys", "9", "--maglev-size", "65536"], "prime"),
    (["--algo", "ring", "--nodes", "3", "--keys", "9", "--add", "1", "--remove", "1"],
     "cannot be combined"),
    (["--algo", "ring", "--nodes", "3", "--keys", "9", "--remove", "3"], "would leave none"),
    (["--algo", "ring", "--nodes", "3", "--keys", "9", "--bogus"], "unknown option"),
    (["--algo", "ring", "--nodes", "3", "--keys", "9", "extra"], "unexpected argument"),
    (["--algo", "ring", "--nodes", "3", "--keys", "9", "--csv", "/nonexistent/x.csv"], "--csv"),
])
def test_bad_arguments_give_one_line_and_exit_2(args, needle):
    r = run_strata(["ring"] + args)
    lines = r.stderr.splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("strata ring: "), r.stderr
    assert needle in lines[0], lines[0]
