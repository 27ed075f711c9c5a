"""conformance.tlc / jvm / values / model: TLC in-process on the toy spec (and the smallest real model)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conformance import Model, SpecError, StaleModelError, check_model, validate_violation
from conformance.jvm import JVMError, find_jar, non_daemon_threads

HERE = os.path.dirname(os.path.abspath(__file__))
TOY = os.path.join(HERE, "toy")
REPO = os.path.dirname(os.path.dirname(HERE))


def toy(name: str) -> str:
    return os.path.join(TOY, name + ".cfg")


pytestmark = pytest.mark.usefixtures("jvm")


# -- jar and JVM ----------------------------------------------------------------


def test_find_jar_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv("TLA2TOOLS_JAR", raising=False)
    assert find_jar().endswith("tla2tools.jar") and os.path.isfile(find_jar())
    monkeypatch.setenv("TLA2TOOLS_JAR", str(tmp_path / "missing.jar"))
    with pytest.raises(JVMError):
        find_jar()
    jar = tmp_path / "other.jar"
    jar.write_bytes(b"")
    monkeypatch.setenv("TLA2TOOLS_JAR", str(jar))
    assert find_jar() == str(jar)


# -- model checking ---------------------------------------------------------------


def test_toy_exhausted_without_violation():
    res = check_model(toy("Toy"), progress=False)
    assert res.ok, res.summary()
    assert res.exit_code == 0 and res.tlc_code == 0
    assert (res.states, res.distinct, res.depth) == (1141, 444, 9)
    assert res.complete and res.violations == [] and res.errors == []
    assert res.seconds > 0


def test_invariant_violation_trace_as_python_values():
    res = check_model(toy("ToyBroken"), progress=False, validate=True)
    assert not res.ok and res.exit_code == 12 and res.tlc_code == 2110
    [v] = res.violations
    assert (v.kind, v.name) == ("invariant", "CountBound")
    assert v.trace_rebuilt and v.validated, v.validation
    # BFS: the shortest counterexample, two increments of one process
    assert [s.action for s in v.trace] == [None, "Incr", "Incr"]
    assert v.trace[1].params == v.trace[2].params
    p = v.trace[1].params["i"]
    assert v.trace[0].state["count"] == {"p1": 0, "p2": 0}
    assert v.trace[-1].state["count"][p] == 2
    assert v.trace[-1].state["log"] == [
        {"op": "incr", "at": p, "val": 1},
        {"op": "incr", "at": p, "val": 2},
    ]
    assert res.violation("CountBound") is v
    # JSON-friendly all the way
    d = json.loads(json.dumps(res.to_json()))
    assert d["violations"][0]["trace"][2]["params"] == {"i": p}


def test_violation_replays_through_a_freshly_loaded_spec():
    res = check_model(toy("ToyBroken"), progress=False)
    v = res.violations[0]
    model = Model.load(toy("ToyBroken"))
    assert validate_violation(model, v).ok
    # and its JSON form too (what a subprocess's --json gives)
    assert validate_violation(model, json.loads(json.dumps(v.to_json()))).ok
    # a claim it does not support is refused
    wrong = v.to_json() | {"name": "Monotone"}
    r = validate_violation(model, wrong)
    assert not r.ok and "does not violate Monotone" in r.reason


def test_deadlock_reported_only_when_asked():
    assert check_model(toy("ToyDeadlock"), progress=False).ok
    res = check_model(toy("ToyDeadlock"), progress=False, deadlock=True, validate=True)
    assert not res.ok and res.exit_code == 11
    [v] = res.violations
    assert v.kind == "deadlock" and v.trace_rebuilt and v.validated, v.validation
    assert v.trace[-1].state["count"] == {"p1": 1, "p2": 1}


def test_temporal_property_lasso_loops_back():
    """A cycle counterexample: loop_to is the state TLC goes back to (tool mode prints
    "3: Back to state: <Incr line 36, ...>"; the spec's line number is not the state)."""
    res = check_model(toy("ToyLasso"), progress=False)
    assert not res.ok and res.exit_code == 13
    [v] = res.violations
    assert (v.kind, v.name) == ("property", "StaysDone")
    assert v.loop_to is not None and 1 <= v.loop_to <= len(v.trace), (v.loop_to, len(v.trace))
    assert v.trace_rebuilt
    # the loop goes through a state where the counters are not done
    assert any(s.state["count"] != {"p1": 1, "p2": 1} for s in v.trace[v.loop_to - 1:])


def test_temporal_property_violation_and_no_stray_threads():
    res = check_model(toy("ToyLiveness"), progress=False, isolate=False)
    assert not res.ok and res.exit_code == 13
    [v] = res.violations
    assert (v.kind, v.name) == ("property", "AllDone")
    assert v.loop_to == len(v.trace)  # stutters in its last state
    assert v.trace_rebuilt
    # TLC 2.15 leaks a thread pool when printing a liveness counterexample:
    # check_model ends it, else Python would hang at exit
    deadline = time.monotonic() + 10  # (RMI's reaper thread ends on its own, a moment later)
    while non_daemon_threads() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [str(t.getName()) for t in non_daemon_threads()] == []


def test_symmetry_trace_rebuilt():
    res = check_model(toy("ToySymmetry"), progress=False, validate=True)
    [v] = res.violations
    assert v.name == "CountBound" and v.trace_rebuilt and v.validated, v.validation


def test_evaluation_error_is_reported():
    res = check_model(toy("ToyError"), progress=False)
    assert not res.ok and res.exit_code == 75
    assert res.errors and "should be an integer" in res.errors[0]


def test_cfg_error(tmp_path):
    for f in ("Toy.tla",):
        shutil.copy(os.path.join(TOY, f), tmp_path / f)
    (tmp_path / "Toy.cfg").write_text("CONSTANTS Proc = {p1}\nINIT Init\nNEXT Next\n")
    res = check_model(str(tmp_path / "Toy.cfg"), progress=False)
    assert not res.ok and res.errors and res.exit_code != 0


def test_parse_error(tmp_path):
    (tmp_path / "Bad.tla").write_text(
        "---- MODULE Bad ----\nVARIABLE x\nInit == x = \nNext == x' = x\n====\n"
    )
    (tmp_path / "Bad.cfg").write_text("INIT Init\nNEXT Next\n")
    res = check_model(str(tmp_path / "Bad.cfg"), progress=False)
    assert not res.ok and res.errors
    with pytest.raises(SpecError):
        Model.load(str(tmp_path / "Bad.cfg"))


def test_second_spec_in_one_jvm_resolves_its_own_names(tmp_path):
    """TLC_NOTES pitfall 2: a spec loaded after another must not see the first one's definitions."""
    check_model(toy("Toy"), progress=False, isolate=False)
    (tmp_path / "Other.tla").write_text(
        "---- MODULE Other ----\nEXTENDS Naturals\nVARIABLE count\n"
        "Init == count = 0\nIncr == count < 3 /\\ count' = count + 1\nNext == Incr\n"
        "CountBound == count <= 2\n====\n"
    )
    (tmp_path / "Other.cfg").write_text("INIT Init\nNEXT Next\nINVARIANT CountBound\n")
    res = check_model(str(tmp_path / "Other.cfg"), progress=False, isolate=False)
    assert (res.distinct, res.violations[0].name, len(res.violations[0].trace)) == (4, "CountBound", 4)
    m = Model.load(str(tmp_path / "Other.cfg"))
    assert [a.label for a in m.actions] == ["Incr"] and m.variables == ["count"]
    assert check_model(toy("Toy"), progress=False, isolate=False).distinct == 444


def test_one_live_spec_per_process():
    m = Model.load(toy("Toy"))
    m.init_states()
    Model.load(toy("ToyBroken"))
    with pytest.raises(StaleModelError):
        m.init_states()


def test_timeout_stops_the_search(tmp_path):
    (tmp_path / "Big.tla").write_text(
        "---- MODULE Big ----\nEXTENDS Naturals\nVARIABLES x, y\nInit == x = 0 /\\ y = 0\n"
        "Next == \\/ x < 3000 /\\ x' = x + 1 /\\ UNCHANGED y\n        \\/ y < 3000 /\\ y' = y + 1 /\\ UNCHANGED x\n====\n"
    )
    (tmp_path / "Big.cfg").write_text("INIT Init\nNEXT Next\n")
    t0 = time.monotonic()
    res = check_model(str(tmp_path / "Big.cfg"), progress=False, timeout=1.5, workers=1)
    assert time.monotonic() - t0 < 30
    assert not res.complete and not res.ok and res.distinct < 3001 * 3001
    assert res.summary().startswith("INCOMPLETE")


def test_progress_lines(tmp_path, capsys):
    import io

    buf = io.StringIO()
    check_model(toy("Toy"), progress=0.01, progress_stream=buf)
    assert "[tlc Toy]" in buf.getvalue()


# -- values ---------------------------------------------------------------------------


def test_value_conversion():
    m = Model.load(os.path.join(TOY, "Values.cfg"))
    d = m.to_python(m.init_states()[0])
    assert list(d)[:3] == ["int", "bool", "str"]  # declaration order
    assert d == {
        "int": -3,
        "bool": True,
        "str": "hello",
        "mv": "a",
        "rec": {"x": 1, "y": "two"},
        "tup": [1, "x", "b"],
        "seqfcn": [1, 4, 9],
        "setint": [9, 10, 100],
        "interval": [2, 3, 4],
        "setmixed": [3, "a", "b"],
        "fcnmv": {"a": True, "b": False},
        "fcnint": {"0": 1, "2": 3, "5": 6},
        "fcnpair": {"__fcn__": [[["a", 1], 1], [["b", 1], 1]]},
        "powerset": [[], [1], [1, 2], [2]],
        "fcnset": [{"a": 0}, {"a": 1}],
        "lambda": {"0": 0, "1": 1},
        "nested": {"a": {"log": [{"z": ["a"]}]}, "b": {"log": [{"z": ["b"]}]}},
        "empty": [[], [], []],
    }
    assert json.loads(json.dumps(d)) == d
    # converted again from the cache: equal and fast
    assert m.to_python(m.init_states()[0]) == d and m.values.hits > 0


# -- the CLI in a subprocess: exits on its own --------------------------------------------


def _run_cli(*args, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


def test_cli_check_json_exits_promptly():
    # a liveness counterexample: the case where TLC leaves a non-daemon thread behind
    t0 = time.monotonic()
    p = _run_cli("check", toy("ToyLiveness"), "--json", "--progress", "0", timeout=60)
    assert time.monotonic() - t0 < 60
    assert p.returncode == 13, p.stderr
    d = json.loads(p.stdout)
    assert d["violations"][0]["kind"] == "property" and d["violations"][0]["name"] == "AllDone"

    p = _run_cli("check", toy("ToyBroken"), "--json", "--validate", timeout=60)
    assert p.returncode == 12, p.stderr
    d = json.loads(p.stdout)
    v = d["violations"][0]
    assert (v["kind"], v["name"], v["validated"]) == ("invariant", "CountBound", True)
    assert v["trace"][-1]["state"]["count"] in ({"p1": 2, "p2": 0}, {"p1": 0, "p2": 2})

    p = _run_cli("check", toy("Toy"), timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("OK: Toy"), p.stdout + p.stderr


# -- the smallest real model ------------------------------------------------------------------


def _smallest_real_model() -> str | None:
    """``$CONFORMANCE_SMALL_MODEL``, else the first ``spec/*Tiny*.cfg``, else ``spec/*Small*.cfg``."""
    env = os.environ.get("CONFORMANCE_SMALL_MODEL")
    if env:
        return env
    spec = os.path.join(REPO, "spec")
    cfgs = sorted(f for f in os.listdir(spec) if f.endswith(".cfg")) if os.path.isdir(spec) else []
    for word in ("tiny", "small"):
        for f in cfgs:
            if word in f.lower():
                return os.path.join(spec, f)
    return None


@pytest.mark.timeout(180)
def test_smallest_real_model_exhausted():
    cfg = _smallest_real_model()
    if cfg is None:
        pytest.skip("no spec/*.cfg yet")
    res = check_model(cfg, progress=False, timeout=150)
    assert res.complete, "the smallest model must be exhausted within the test's time"
    assert res.ok, res.summary()


def test_rebuild_under_symmetry_accepts_a_permuted_last_state():
    """TLC may print the violating state as a permutation of the successor of the
    printed predecessor; the rebuilt trace is then a genuine path up to symmetry."""
    from conformance.tlc import TraceStep, Violation, _rebuild_trace

    m = Model.load(toy("ToySymmetry"))
    perms = list(m.tool.getSymmetryPerms())
    s0 = m.init_states()[0]
    incr_p1 = m.find_actions("Incr", {"i": "p1"})[0]
    s1 = m.successors(s0, incr_p1)[0]
    s2 = m.successors(s1, incr_p1)[0]

    def permuted(state, p):
        t = state.copy()
        for _n, us in m._vars():
            t.bind(us, state.lookup(us).permute(p))
        return m.state_text(t)

    texts = [m.state_text(s0), m.state_text(s1)]
    other = [permuted(s2, p) for p in perms if permuted(s2, p) != m.state_text(s2)]
    v = Violation(
        kind="invariant",
        name="CountBound",
        message="",
        trace=[
            TraceStep(action=a, state=None, text=t)
            for a, t in zip([None, "Incr", "Incr"], texts + other[:1], strict=True)
        ],
    )
    _rebuild_trace(m, v)
    assert v.trace_rebuilt
    assert [s.params for s in v.trace] == [{}, {"i": "p1"}, {"i": "p1"}]
    assert v.trace[-1].state["count"] == {"p1": 2, "p2": 0, "p3": 0}
    assert validate_violation(m, v).ok
