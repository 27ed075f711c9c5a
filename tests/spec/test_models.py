"""The TLA+ models of spec/: TLC exhausts them with no violation.

`make test` runs the smallest composed model (ZkSystemSmall: every module
of the spec, about 150,000 distinct states) and ZabRecoveryMini (Zab with
the pending-fsync state and SendNEWLEADER, from the recovery state) and
ZabRecoveryMiniLog (the same with the txn-log sync) and ZabObserverMini (two
voters and an observer), in the session's JVM, and shows that they reach
TRUNC, the more-recent refusal, a late joiner, a DIFF from the txn log and
an observer's INFORM (TLC breaks a probe invariant for each).  The other small models take longer on a shared machine; they run with
``ZK_SPEC_MODELS=all`` (or a comma-separated list of model names).  The liveness
models (LIVE: a temporal property under the spec's fairness) run the same
way; `make test` checks the two smallest (under 20 s each).  Measured
figures for every model are in spec/README.md.
"""

from __future__ import annotations

import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(REPO, "spec")

#: the models `make test` runs
SMALLEST = "ZkSystemSmall"
MINI = "ZabRecoveryMini"
MINI_LOG = "ZabRecoveryMiniLog"
OBSERVER_MINI = "ZabObserverMini"

#: the txn-log probe: follower i has a DIFF from j at its head and lacks two or more of the
#: txns up to the DIFF's zxid (the window of MINI_LOG holds one)
TXN_LOG_DIFF = (
    "NeverTxnLogDiff == \\A i, j \\in Server :\n"
    '    ~(/\\ HeadIs(j, i, "DIFF")\n'
    "      /\\ Cardinality({k \\in DOMAIN history[j] :\n"
    "                        /\\ ZxidLT(LastZxid(history[i]), history[j][k].zxid)\n"
    "                        /\\ ZxidLE(history[j][k].zxid, Head(qmsgs[j][i]).mzxid)}) >= 2)")

#: the small models (each exhausts, in seconds to under an hour: spec/README.md has the figures):
#: name -> at least this many distinct states (just below the measured count)
SMALL = {
    "ZkSystemSmall": 149_000,
    "ZabSmall": 540_000,
    "ZabRecoverySmall": 710_000,
    "FastLeaderElectionSmall": 106_000,
    "ZabRecoveryFour": 200_000,
    "ZabTiny": 7_300,
    "ZabRecoveryMini": 3_200,
    "ZabRecoveryMiniLog": 3_200,
    "ZabObserverMini": 7_800,
    "ZabObserverFour": 915_000,
    "ZabObserverSmall": 100_000,
}

#: the liveness models (a PROPERTY under the fairness of FLEFairSpec / FairSpec): name -> at least
#: this many distinct states; `make test` runs the first two (under 30 s each)
LIVE = {
    "FastLeaderElectionLive": 350,
    "ZkSystemFairSmall": 450,
    "ZkSystemFair": 15_000,
    "FastLeaderElectionLiveThree": 100_000,
}
LIVE_SMALLEST = ["FastLeaderElectionLive", "ZkSystemFairSmall"]



def _module_invariants(module: str, name: str) -> list[str]:
    """TypeOK plus the conjuncts of the invariant list `name` defined in spec/<module>.tla."""
    with open(os.path.join(SPEC, module + ".tla"), encoding="utf-8") as fh:
        m = re.search(rf"^{name} ==\n((?:    .*\n)+)", fh.read(), re.M)
    assert m, f"{module}.tla defines no {name}"
    return ["TypeOK"] + re.findall(r"\w+", m.group(1))


#: every invariant each root module's models check (the module's own lists)
INVARIANTS = {
    "Zab": _module_invariants("Zab", "ZabInvariants"),
    "FastLeaderElection": _module_invariants("FastLeaderElection", "FLEInvariants"),
}
INVARIANTS["ZkSystem"] = INVARIANTS["Zab"] + INVARIANTS["FastLeaderElection"][1:]


def _selected(models: dict[str, int] = SMALL, default: tuple[str, ...] = (SMALLEST, MINI, MINI_LOG, OBSERVER_MINI)) -> list[str]:
    """The models of `models` to run: ZK_SPEC_MODELS=all, a comma-separated list, or `default`."""
    env = os.environ.get("ZK_SPEC_MODELS", "").strip()
    if env == "all":
        return list(models)
    if env:
        names = [m.strip() for m in env.split(",") if m.strip()]
        unknown = [n for n in names if n not in SMALL and n not in LIVE]
        assert not unknown, f"unknown models {unknown}"
        return [n for n in names if n in models]
    return list(default)


def _cfg(name: str) -> str:
    return os.path.join(SPEC, name + ".cfg")


def _module_of(name: str) -> str:
    with open(_cfg(name), encoding="utf-8") as fh:
        m = re.search(r"\\\*\s*module:\s*(\w+)", fh.read())
    assert m, f"{name}.cfg names no root module"
    return m.group(1)


@pytest.fixture(scope="module")
def jvm():
    from conformance.jvm import start_jvm

    return start_jvm()


def test_every_cfg_names_its_module_and_checks_every_invariant():
    cfgs = sorted(f[:-4] for f in os.listdir(SPEC) if f.endswith(".cfg"))
    assert set(SMALL) <= set(cfgs)
    for name in cfgs:
        module = _module_of(name)
        assert os.path.isfile(os.path.join(SPEC, module + ".tla")), name
        with open(_cfg(name), encoding="utf-8") as fh:
            text = fh.read()
        invs = re.search(r"^INVARIANTS?\s+(.*)$", text, re.M).group(1).split()
        assert invs == INVARIANTS[module], f"{name}.cfg checks {invs}"
        # a model with a temporal property is a liveness model the suite knows
        assert bool(re.search(r"^PROPERT(Y|IES)\s", text, re.M)) == (name in LIVE), name


@pytest.mark.parametrize("name", _selected())
def test_model_exhausted_without_violation(jvm, name):
    from conformance.tlc import check_model

    assert name in SMALL, f"unknown small model {name}"
    res = check_model(_cfg(name), workers=2, deadlock=False, progress=False)
    print(res.summary())
    assert res.ok, res.summary()
    assert res.complete and not res.violations and not res.errors, res.summary()
    assert res.distinct >= SMALL[name], res.summary()
    assert res.depth > 10, res.summary()



@pytest.mark.parametrize("name", _selected(LIVE, tuple(LIVE_SMALLEST)))
def test_liveness_model(name):
    """The model's temporal property holds under its fairness: TLC explores the whole graph and
    finds no lasso (a fair cycle, or a stuttering end, where the property fails)."""
    from conformance.tlc import check_model

    res = check_model(_cfg(name), workers=1, deadlock=False, progress=False)
    print(res.summary())
    assert res.ok, res.summary()
    assert res.complete and not res.violations and not res.errors, res.summary()
    assert res.distinct >= LIVE[name], res.summary()


#: reachability probes: name -> (model, definition); TLC must break each on its model (the
#: state it names is reachable there)
REACH = {
    # a TRUNC packet is in flight
    "NeverTRUNC": (MINI, 'NeverTRUNC == \\A i, j \\in Server : \\A k \\in DOMAIN qmsgs[i][j] : '
                         'qmsgs[i][j][k].mtype # "TRUNC"'),
    # leader i's next step can be the refusal of HandleACKEPOCH: j is more recent than i
    "NeverMoreRecentRefusal": (MINI, (
        "NeverMoreRecentRefusal == \\A i, j \\in Server :\n"
        '    ~(/\\ state[i] = "LEADING" /\\ zabState[i] = "DISCOVERY"\n'
        '      /\\ learners[i][j] = "WAIT_ACKEPOCH" /\\ HeadIs(j, i, "ACKEPOCH")\n'
        "      /\\ Head(qmsgs[j][i]).mepoch # -1\n"
        "      /\\ MoreRecent(Head(qmsgs[j][i]).mepoch, Head(qmsgs[j][i]).mzxid,\n"
        "                    currentEpoch[i], LastZxid(history[i])))")),
    # a late joiner: its ACKEPOCH came after the epoch-ack quorum, its sync is queued and
    # its NEWLEADER not yet (SendNEWLEADER)
    "NeverLateJoiner": (MINI, 'NeverLateJoiner == \\A i, j \\in Server : learners[i][j] # "SYNC_QUEUED"'),
    # a DIFF from the txn log: the follower at its head lacks two or more of the txns up to
    # the DIFF's zxid, more than the committedLog window of 1 holds
    "NeverTxnLogDiff": (MINI_LOG, TXN_LOG_DIFF),
    # an observer has an INFORM (a commit of the running epoch) at the head of its queue
    "NeverObserverInform": (OBSERVER_MINI, 'NeverObserverInform == \\A i \\in Observers, j \\in Server : '
                                           '~HeadIs(j, i, "INFORM")'),
}


def _probe_model(tmp_path, model: str, probe: str, definition: str, constants: dict[str, str] | None = None) -> str:
    """Write Reach.tla (Zab plus the probe) and Reach.cfg (`model` checking only the probe,
    with `constants` overridden) under tmp_path; return the cfg's path."""
    import shutil

    for f in os.listdir(SPEC):
        if f.endswith(".tla"):
            shutil.copy(os.path.join(SPEC, f), tmp_path)
    (tmp_path / "Reach.tla").write_text(
        "---- MODULE Reach ----\nEXTENDS Zab\n" + definition + "\n====\n", encoding="utf-8")
    with open(_cfg(model), encoding="utf-8") as fh:
        cfg = fh.read()
    cfg = re.sub(r"^\\\* module: \w+", "\\\\* module: Reach", cfg, flags=re.M)
    cfg = re.sub(r"^INVARIANTS? .*$", "INVARIANTS " + probe, cfg, flags=re.M)
    for k, v in (constants or {}).items():
        cfg, n = re.subn(rf"^(\s*){k} = .*$", rf"\g<1>{k} = {v}", cfg, flags=re.M)
        assert n == 1, k
    path = tmp_path / "Reach.cfg"
    path.write_text(cfg, encoding="utf-8")
    return str(path)


def _check_cli(cfg: str) -> dict:
    import json
    import subprocess
    import sys

    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "conformance", "check", cfg, "--json",
         "--validate", "--progress", "0", "--workers", "1", "--timeout", "300"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    res = json.loads(proc.stdout)
    res["_output"] = proc.stdout[-2000:] + proc.stderr[-2000:]
    return res


@pytest.mark.parametrize("probe", sorted(REACH))
def test_mini_model_reaches(probe, tmp_path):
    """TLC breaks the probe on its model with a validated counterexample: the model reaches
    that state."""
    model, definition = REACH[probe]
    res = _check_cli(_probe_model(tmp_path, model, probe, definition))
    assert res["violations"], res["_output"]
    v = res["violations"][0]
    assert v["kind"] == "invariant" and v["name"] == probe, v["name"]
    assert v["trace_rebuilt"] and v["validated"], v["validation"]
    print(probe, len(v["trace"]) - 1, "steps:", [s["action"] for s in v["trace"][1:]])


def test_txn_log_diff_needs_txn_log_sync(tmp_path):
    """With TxnLogSync off, the same model never sends that DIFF (the probe holds, TLC exhausts
    the model): the DIFF the probe finds is the txn-log branch of syncFollower."""
    res = _check_cli(_probe_model(tmp_path, MINI_LOG, "NeverTxnLogDiff", TXN_LOG_DIFF,
                                  {"TxnLogSync": "FALSE"}))
    assert not res["violations"] and not res.get("errors"), res["_output"]
    assert res["complete"] and res["distinct"] > 2_000, res["_output"]
