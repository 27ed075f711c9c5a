"""conformance.walker: random / coverage-guided walks through TLC's evaluator, JSON lines, replay."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys

import pytest

from conformance import Model, Walker, generate_traces, read_traces, validate_trace, validate_violation

HERE = os.path.dirname(os.path.abspath(__file__))
TOY = os.path.join(HERE, "toy")
REPO = os.path.dirname(os.path.dirname(HERE))

pytestmark = pytest.mark.usefixtures("jvm")


def toy(name: str) -> str:
    return os.path.join(TOY, name + ".cfg")


@pytest.fixture
def model():
    return Model.load(toy("Toy"))


def test_actions_split_per_parameter(model):
    assert model.action_names == ["Incr", "Send", "Receive", "Reset"]
    labels = [a.label for a in model.actions]
    assert "Send(p1, p2)" in labels and "Incr(p2)" in labels and "Reset" in labels
    send = model.find_actions("Send", {"i": "p1", "j": "p2"})
    assert len(send) == 1 and send[0].params == {"i": "p1", "j": "p2"}
    assert len(model.find_actions("Receive")) == 4


def test_walks_cover_every_action_and_replay(model, tmp_path):
    out = tmp_path / "t.jsonl"
    res = generate_traces(model, 40, 30, out=str(out), seed=3, progress=False)
    assert res.coverage.complete, res.coverage.table()
    assert res.traces == 40 and res.ends == {"depth": 40} and res.steps == 40 * 30
    table = res.coverage.table()
    assert "covered 4/4 actions" in table and "Reset" in table
    traces = list(read_traces(str(out)))
    assert len(traces) == 40 and [t["index"] for t in traces] == list(range(40))
    for t in traces:
        assert (t["model"], t["module"], t["seed"], t["strategy"]) == ("Toy", "Toy", 3, "coverage")
        assert t["steps"][0]["action"] is None and len(t["steps"]) == 31
        r = validate_trace(model, t["steps"])
        assert r.ok, r.reason
    step = traces[0]["steps"][1]
    assert set(step) == {"action", "params", "state"}
    assert set(step["state"]) == {"count", "chan", "log"}


def test_same_seed_same_traces(model):
    a = [Walker(model, seed=7).walk(20, k) for k in range(3)]
    b = [Walker(model, seed=7).walk(20, k) for k in range(3)]
    assert json.dumps(a) == json.dumps(b)
    c = Walker(model, seed=8, strategy="random").walk(20)
    assert c["strategy"] == "random" and validate_trace(model, c["steps"]).ok


def test_coverage_strategy_takes_new_actions_first(model):
    w = Walker(model, seed=1, strategy="coverage")
    t = w.walk(12)
    names = [s["action"] for s in t["steps"][1:]]
    # from the initial state Incr and Send are enabled; both are taken before any repeat of either
    assert set(names[:2]) == {"Incr", "Send"}


def test_tampered_traces_are_rejected(model):
    t = Walker(model, seed=5).walk(15)
    steps = t["steps"]
    assert validate_trace(model, steps).ok

    bad = copy.deepcopy(steps)
    bad[0]["state"]["count"]["p1"] = 1
    r = validate_trace(model, bad)
    assert not r.ok and r.failed_at == 0

    bad = copy.deepcopy(steps)
    k = next(i for i, s in enumerate(bad) if s["action"] == "Incr")
    bad[k]["state"]["count"][bad[k]["params"]["i"]] += 1
    r = validate_trace(model, bad)
    assert not r.ok and r.failed_at == k and "count" in r.reason

    bad = copy.deepcopy(steps)
    k = next(i for i, s in enumerate(bad) if s["action"] == "Send")
    bad[k]["params"] = {"i": "p1", "j": "p1"}  # never enabled (i # j)
    r = validate_trace(model, bad)
    assert not r.ok and r.failed_at == k

    bad = copy.deepcopy(steps)
    bad[1]["action"] = "Teleport"
    r = validate_trace(model, bad)
    assert not r.ok and "no action Teleport" in r.reason

    # states may be left out when the action has one successor; params too
    lean = [steps[0]] + [{"action": s["action"]} | ({"params": s["params"]}) for s in steps[1:]]
    r = validate_trace(model, lean)
    assert r.ok and r.steps == len(steps)
    # ... and only some variables compared
    some = [
        {"action": s["action"], "params": s["params"], "state": {"count": s["state"]["count"]}} for s in steps
    ]
    assert validate_trace(model, some, variables=["count"]).ok


def test_walks_stop_at_deadlock_and_violation():
    m = Model.load(toy("ToyDeadlock"))
    t = Walker(m, seed=0).walk(10)
    assert t["end"] == "deadlock" and len(t["steps"]) == 3

    m = Model.load(toy("ToyBroken"))
    res = generate_traces(m, 5, 20, seed=2, progress=False, out=(buf := io.StringIO()))
    assert res.ends == {"violation": 5} and res.violations == {"CountBound": 5}
    t = json.loads(buf.getvalue().splitlines()[0])
    assert t["violation"]["invariant"] == "CountBound" and t["violation"]["step"] == len(t["steps"]) - 1
    v = {"kind": "invariant", "name": "CountBound", "trace": t["steps"]}
    assert validate_violation(m, v).ok


def test_parallel_jobs(tmp_path):
    out = tmp_path / "p.jsonl"
    res = generate_traces(toy("Toy"), 6, 10, out=str(out), jobs=2, seed=1, progress=False)
    assert res.jobs == 2 and res.traces == 6 and res.steps == 60
    traces = list(read_traces(str(out)))
    assert [t["index"] for t in traces] == list(range(6))
    assert sum(res.coverage.by_name.values()) == 60 and res.coverage.labels_of["Send"]


def test_cli_traces_and_replay(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    out = tmp_path / "t.jsonl"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "traces",
            toy("Toy"),
            "-n",
            "20",
            "--depth",
            "15",
            "-o",
            str(out),
            "--json",
            "--require-coverage",
            "--progress",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["traces"] == 20 and d["coverage"]["covered"] == d["coverage"]["actions_total"] == 4
    p = subprocess.run(
        [sys.executable, "-m", "conformance", "replay", toy("Toy"), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert p.returncode == 0 and "20/20 traces replay" in p.stdout, p.stdout + p.stderr


def test_explorer_finds_paths_to_actions(model):
    from conformance.walker import Explorer

    ex = Explorer(model)
    ex.run(["Reset"])
    path = ex.path_to("Reset")
    assert path[0][0] is None and path[-1][0].name == "Reset"
    w = Walker(model, seed=0)
    t = w.walk(len(path) + 5, prefix=path)
    assert [s["action"] for s in t["steps"][: len(path)]] == [None] + [a.name for a, _ in path[1:]]
    assert validate_trace(model, t["steps"]).ok
    ex.run()  # on to the end: the whole state space, as TLC counts it
    assert ex.exhausted and ex.states == 444
    assert ex.path_to("Teleport") is None


def test_directed_walks_reach_what_random_walks_miss():
    """ToyRare: Reset needs both counters at 3 and every queue empty; 12 walks of 8 steps
    at random never get there, the breadth-first search does."""
    m = Model.load(toy("ToyRare"))
    res = generate_traces(m, 12, 8, seed=0, progress=False, out=(buf := io.StringIO()))
    assert res.coverage.complete, res.coverage.table()
    directed = [json.loads(line) for line in buf.getvalue().splitlines() if '"directed"' in line]
    assert [t["directed"] for t in directed][:1] == ["Reset"]
    for t in directed:
        assert validate_trace(m, t["steps"]).ok
    res = generate_traces(m, 12, 8, seed=0, progress=False, strategy="random")
    assert res.coverage.uncovered == ["Reset"]
