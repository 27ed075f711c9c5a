"""Spec traces replayed against zk_twisted's real nodes (conformance/replay_impl.py).

The traces come from spec/ZkSystemTraces.cfg through the walker (one JVM per session); each
replays on the whole-node simulation's real QuorumPeers.  A divergence that is exactly a
known difference (replay_impl.KNOWN) stops its trace and is counted apart; any other fails.
"""

from __future__ import annotations

import copy
import json

import pytest

from conformance.impl_run import read_traces, replay_traces
from conformance.msc import render_divergence
from conformance.replay_impl import DIVERGENT, KNOWN, replay_trace

#: the issue's bar: 1,000 traces of depth 50, every action of the spec replayed
TRACES = 1000
JOBS = 2


@pytest.fixture(scope="module")
def generated(trace_corpus) -> tuple[list[dict], list[str]]:
    """The session's 1,000 traces (tests/conftest.py), and the names of every action of the model."""
    path, summary = trace_corpus
    return list(read_traces(path)), list(summary["coverage"]["actions"])


@pytest.fixture(scope="module")
def traces(generated) -> list[dict]:
    return generated[0]


@pytest.mark.timeout(1200)  # the corpus (if no earlier test made it) and the replay: ~3 min idle
def test_generated_traces_replay_against_the_real_nodes_without_divergence(generated, tmp_path):
    traces, actions = generated
    res = replay_traces(traces, report_dir=tmp_path, jobs=JOBS)
    print(json.dumps({k: res[k] for k in ("traces", "steps", "seconds", "steps_per_s", "actions_covered")}))
    assert res["divergences"] == [], json.dumps(res["divergences"][:1], indent=1)
    assert res["traces"] == TRACES
    assert res["stopped_at"] == {} and res["known_divergences"] == {}
    # every action of the spec, each replayed
    assert set(res["actions_covered"]) == set(actions), set(actions) - set(res["actions_covered"])
    # the trace model has ModelFsync: a node's pending log tail is fsynced at its FsyncLog step
    assert "FsyncLog" in res["actions_covered"]
    assert res["steps"] >= 10 * TRACES


def _diverging_copy(trace: dict, step: int) -> dict:
    t = copy.deepcopy(trace)
    t["steps"][step]["state"]["currentEpoch"][0] += 7
    return t


def test_a_forced_divergence_is_caught_and_its_report_names_step_and_field(traces, tmp_path):
    trace = next(t for t in traces if replay_trace(t).steps >= 5)
    res = replay_trace(_diverging_copy(trace, 3), 0)
    d = res.divergence
    assert d is not None and d.step == 3 and set(d.fields) == {"currentEpoch"}
    assert d.fields["currentEpoch"]["1"]["spec"] == d.fields["currentEpoch"]["1"]["impl"] + 7
    page = render_divergence(tmp_path / "d.html", d, res.events, 3).read_text()
    assert "step <b>3</b>" in page and "differing fields: <b>currentEpoch</b>" in page and "<svg" in page
    # the CLI's batch writes the same report and names it
    summary = replay_traces([_diverging_copy(trace, 3)], report_dir=tmp_path / "batch")
    (only,) = summary["divergences"]
    assert only["step"] == 3 and "currentEpoch" in only["fields"]
    assert "differing fields: <b>currentEpoch</b>" in open(only["report"], encoding="utf-8").read()


def test_a_step_the_implementation_cannot_take_is_a_divergence(traces):
    trace = copy.deepcopy(next(t for t in traces if replay_trace(t).steps >= 3))
    step = trace["steps"][2]
    step["action"], step["params"] = "HandleUPTODATE", {"i": 1, "j": 2}  # nothing of the kind in flight
    d = replay_trace(trace).divergence
    assert d is not None and d.step == 2 and set(d.fields) == {"enabled"}


def test_election_timeouts_resend_to_every_peer_as_3_8(traces):
    """No known difference is left (replay_impl.KNOWN): on its notification timeout the spec,
    as 3.8, re-sends its vote to every peer (not only to those whose queue from it is empty)
    when some message of it went out, else redials; the replay above has no divergence there.
    The traces take timeouts that reach a peer besides the timed-out server's loopback."""
    assert KNOWN == {} and DIVERGENT == {}
    to_peers = 0
    for t in traces:
        for prev, st in zip(t["steps"], t["steps"][1:], strict=False):
            if st["action"] == "ElectionTimeout":
                i, n = st["params"]["i"] - 1, len(st["state"]["state"])
                to_peers += any(st["state"]["emsgs"][i][b] != prev["state"]["emsgs"][i][b] for b in range(n) if b != i)
    assert to_peers > 0


def test_kept_messages_are_resent_on_the_next_connection(traces):
    """The traces replay a peer's Restart and a healed link's first traffic where 3.8's
    QuorumCnxManager sends its kept message first (spec: ekept, eclosed): the replay above
    has no divergence there, so the implementation resends exactly those."""
    restart = heal = 0
    for t in traces:
        for prev, st in zip(t["steps"], t["steps"][1:], strict=False):
            after, before, p = st["state"], prev["state"], st["params"]
            n = len(after["state"])
            if st["action"] == "Restart":
                i = p["i"] - 1
                restart += any(after["emsgs"][a][i] and after["ekept"][a][i] for a in range(n) if a != i)
            elif st["action"] in ("HandleNotification", "ElectionTimeout", "LeaderTimeout", "FollowerTimeout"):
                # a connection reopened: a message appended that the sender did not send now
                for a in range(n):
                    for b in range(n):
                        grew = len(after["emsgs"][a][b]) > len(before["emsgs"][a][b]) - (
                            1 if st["action"] == "HandleNotification" and [a, b] == [p["j"] - 1, p["i"] - 1] else 0)
                        if a != b and grew and a != p["i"] - 1:
                            heal += 1
    assert restart > 0 and heal > 0, (restart, heal)



@pytest.mark.parametrize("config", ["ZabRecoveryMiniLog.cfg", "ZabObserverMini.cfg"])
def test_a_model_the_nodes_cannot_follow_is_refused(config):
    """The runner's nodes sync from the committedLog only and run no observer: a trace of a model
    with the txn-log sync or an observer is refused up front, not replayed into a divergence."""
    from conformance.replay_impl import model_window

    with pytest.raises(ValueError, match="TxnLogSync|observers"):
        model_window({"config": config, "steps": []})
    assert model_window({"config": "ZabRecoveryMini.cfg", "steps": []}) == 2
