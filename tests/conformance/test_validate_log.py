"""Trace validation of live ensembles (conformance/validate_log.py, issue 13).

Live 3-member zk_twisted ensembles on loopback log their protocol events; faulty runs (kill
-9 of the leader or a follower, writes while one is down, restarts) must validate against
spec/ZkSystemLive.cfg (and so must one with a partition through relays), and logs the spec
forbids must not: a run's log edited into a second
leader of an epoch, into a follower ACK of NEWLEADER it never got, into an epoch it never
wrote, and the live log of a seeded bug (tests/live_mutant).  bench/trace_validation.py
runs 20+ faulty runs.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from livetrace import faulty_run, mutant_env, partition_run  # noqa: E402

from zk_twisted.quorum.tracelog import TraceLog  # noqa: E402

#: a rejected log's search budget: enough to accept any of the faulty runs (each took
#: at most a few thousand expansions), small enough to reject in seconds
REJECT_BUDGET = 3000


@pytest.fixture(scope="module")
def live_model(jvm):
    from conformance.model import Model
    from conformance.validate_log import DEFAULT_MODEL

    return Model.load(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two seeded faulty runs: kill -9 rounds (seed 0: a follower killed and restarted
    twice, writes while it is down), and a partition (seed 1: the link between the leader
    and a follower cut through relays while a write commits, healed, then a kill -9 and a
    restart)."""
    root = tmp_path_factory.mktemp("live")
    kill_dir, part_dir = root / "logs" / "kill0", root / "logs" / "part1"
    return {
        "kill0": (faulty_run(root / "ens-kill", kill_dir, 0), kill_dir),
        "part1": (partition_run(root / "ens-part", part_dir, 1), part_dir),
    }


def _validate(model, logdir, **kw):
    from conformance.validate_log import validate_run

    return validate_run(model, logdir, **kw)


def test_faulty_live_runs_validate(live_model, runs):
    for name, (did, logdir) in runs.items():
        r = _validate(live_model, logdir)
        assert r.accepted, (name, did, json.dumps(r.rejected_at, indent=1))
        assert r.matched == r.events > 60
        kinds = {json.loads(line)["event"] for f in logdir.glob("node*.jsonl") for line in f.open()}
        # each run went through election, discovery, sync, broadcast, a crash and a restart
        assert {"FinalizeElection", "HandleLEADERINFO", "HandleNEWLEADER", "HandleCOMMIT", "Restart"} <= kinds
        faults = {json.loads(x)["event"] for x in (logdir / "env.jsonl").open()}
        assert faults == ({"Crash", "LinkBreak", "LinkHeal"} if name == "part1" else {"Crash"})


def test_a_kept_partition_run_that_outran_the_exhaustive_search_is_accepted(live_model):
    """A live partition run (bench/trace_validation.py, 2026-12-02) that the search rejected
    after 50,000 expansions: taking any lane's next line in any order, it kept trying the
    LinkBreak seconds before it happened.  The windowed pass (lines within 0.5 s of the
    earliest pending one, faults within 1 s of the lines around them) accepts it at once."""
    r = _validate(live_model, Path(__file__).parent / "livelogs" / "partition_run013")
    assert r.accepted and r.matched == r.events, json.dumps(r.rejected_at, indent=1)
    assert r.expansions < 5_000 and r.tail_steps == 0


def _edited(src: Path, dst: Path, sid: int, edit) -> Path:
    """A copy of run ``src`` whose node ``sid`` log is ``edit(rows)``."""
    shutil.copytree(src, dst)
    f = dst / f"node{sid}.jsonl"
    rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    f.write_text("".join(json.dumps(r) + "\n" for r in edit(rows)))
    return dst


def _first(rows, event, pred=lambda r: True) -> int:
    return next(k for k, r in enumerate(rows) if r["event"] == event and pred(r))


def _follower(logdir: Path) -> int:
    """A server whose first role was FOLLOWING."""
    for f in sorted(logdir.glob("node*.jsonl")):
        for x in f.open():
            r = json.loads(x)
            if r["event"] in ("FinalizeElection", "HandleNotification") and r["vars"]["state"] != "LOOKING":
                if r["vars"]["state"] == "FOLLOWING":
                    return r["sid"]
                break
    raise AssertionError("no follower")


def test_logs_the_spec_forbids_are_rejected(live_model, runs, tmp_path):
    _, src = runs["kill0"]
    f = _follower(src)

    def second_leader(rows):  # the follower says it leads the epoch its leader leads
        k = _first(rows, "FinalizeElection", lambda r: r["vars"]["state"] == "FOLLOWING")
        rows[k]["vars"]["state"] = "LEADING"
        rows[k]["vars"]["vote"]["leader"] = rows[k]["sid"]
        return rows

    def ack_before_newleader(rows):  # the follower never handled NEWLEADER, yet its ACK came
        k = _first(rows, "HandleNEWLEADER")
        return rows[:k] + rows[k + 1 :]

    def epoch_never_written(rows):  # the follower's acceptedEpoch stays at 0 after LEADERINFO
        k = _first(rows, "HandleLEADERINFO")
        rows[k]["vars"]["acceptedEpoch"] = 0
        return rows

    expect = {
        "second_leader": (second_leader, "FinalizeElection"),
        "ack_before_newleader": (ack_before_newleader, "HandleACK"),
        "epoch_never_written": (epoch_never_written, "HandleLEADERINFO"),
    }
    for name, (edit, where) in expect.items():
        bad = _edited(src, tmp_path / name, f, edit)
        r = _validate(live_model, bad, max_expansions=REJECT_BUDGET)
        assert not r.accepted, name
        assert r.matched < r.events
        assert any(where in c for c in r.rejected_at["candidates"]), (name, r.rejected_at)


def test_a_cut_tail_before_a_kill_is_tolerated(live_model, runs, tmp_path):
    """A kill -9 may lose an incarnation's last buffered lines (flush_ms > 0): the checker
    takes unlogged steps of the killed server before its crash."""
    _, src = runs["kill0"]
    killed = json.loads((src / "env.jsonl").read_text().splitlines()[0])["params"]["i"]

    def cut(rows):  # the last two lines of the first incarnation are lost
        k = _first(rows, "Restart")
        return rows[: k - 2] + rows[k:]

    r = _validate(live_model, _edited(src, tmp_path / "cut", killed, cut))
    assert r.accepted, r.rejected_at
    assert r.tail_steps >= 1


def test_a_seeded_bugs_live_log_is_rejected(live_model, tmp_path):
    """follower_skips_current_epoch: followers ACK NEWLEADER without writing currentEpoch
    (tests/live_mutant/sitecustomize.py, applied in each server process)."""
    logdir = tmp_path / "logs" / "mutant"
    faulty_run(tmp_path / "ens", logdir, 5, faults=0, env=mutant_env("follower_skips_current_epoch"))
    r = _validate(live_model, logdir, max_expansions=REJECT_BUDGET)
    assert not r.accepted
    why = " ".join(r.rejected_at["candidates"].values())
    assert "currentEpoch: logged 0, spec 1" in why, r.rejected_at


def test_trace_log_incarnations_and_torn_lines(tmp_path):
    """Each start appends one incarnation; a line torn by a kill -9 is skipped."""
    path = tmp_path / "node1.jsonl"
    t = TraceLog(path, 1, flush_ms=0)
    t.view = lambda: {"state": "LOOKING"}
    t.record("Start")
    t.record("HandleNotification", j=2)
    with path.open("a") as fh:
        fh.write('{"sid": 1, "inc": 1, "seq": 3, "t"')  # torn
    t2 = TraceLog(path, 1, flush_ms=0)
    assert (t.incarnation, t2.incarnation, t2.next_round) == (1, 2, "Restart")
    from conformance.validate_log import read_run

    lanes = read_run(tmp_path)
    assert [e.event for e in lanes[1]] == ["Start", "HandleNotification"]
