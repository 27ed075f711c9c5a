"""LearnerHandler.syncFollower's choice (QUORUM_NOTES.md section 5, rules a-f), as a pure function."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zk_twisted.quorum.packets import PacketType as P
from zk_twisted.quorum.packets import make_zxid
from zk_twisted.quorum.sync_choice import (
    CommittedLog,
    Proposal,
    TxnLogSlice,
    sync_follower,
)


def props(*zxids):
    return [Proposal(z, b"txn-%x" % z) for z in zxids]


def run(epoch, lo, hi):
    return [make_zxid(epoch, c) for c in range(lo, hi + 1)]


def shape(plan):
    """The plan as (type, zxid) pairs, for compact asserts."""
    return [(p.type, p.zxid) for p in plan.packets]


def pairs(zxids):
    out = []
    for z in zxids:
        out += [(P.PROPOSAL, z), (P.COMMIT, z)]
    return out


def test_a_forced_snapshot():
    window = props(*run(1, 1, 5))
    plan = sync_follower(make_zxid(1, 3), make_zxid(1, 5), window, force_snap=True)
    assert (plan.kind, plan.zxid, plan.rule) == (P.SNAP, make_zxid(1, 5), "a")
    assert shape(plan) == [(P.SNAP, make_zxid(1, 5))]
    assert plan.last_queued == make_zxid(1, 5)


def test_b_in_sync_gets_an_empty_diff():
    window = props(*run(1, 1, 5))
    plan = sync_follower(make_zxid(1, 5), make_zxid(1, 5), window)
    assert plan.rule == "b"
    assert shape(plan) == [(P.DIFF, make_zxid(1, 5))]
    assert plan.last_queued == make_zxid(1, 5)


def test_c_captured_follower_ahead_is_truncated_to_the_window_end():
    # captured from 3.8: a follower holding 0x200000009 while the leader's last is 0x200000005
    window = props(*run(2, 1, 5))
    plan = sync_follower(0x200000009, 0x200000005, window)
    assert plan.rule == "c"
    assert shape(plan) == [(P.TRUNC, 0x200000005)]
    assert plan.last_queued == 0x200000005


def test_c_not_for_a_new_epoch_zxid():
    # a learner at <<3, 0>> has no txn after it: never TRUNC, DIFF from the window (rule d
    # cannot hold it either: it is beyond the window, so SNAP)
    window = props(*run(2, 1, 5))
    plan = sync_follower(make_zxid(3, 0), make_zxid(2, 5), window)
    assert plan.kind == P.SNAP and plan.rule == "f"


def test_d_diff_from_the_window():
    window = props(*run(1, 1, 8))
    plan = sync_follower(make_zxid(1, 5), make_zxid(1, 8), window)
    assert plan.rule == "d"
    assert shape(plan) == [(P.DIFF, make_zxid(1, 8))] + pairs(run(1, 6, 8))
    assert plan.packets[1].data == b"txn-%x" % make_zxid(1, 6)
    assert plan.last_queued == make_zxid(1, 8)


def test_d_diff_across_epochs_when_the_peer_txn_is_in_the_window():
    window = props(*run(1, 1, 3), *run(2, 1, 2))
    plan = sync_follower(make_zxid(1, 3), make_zxid(2, 2), window)
    assert shape(plan) == [(P.DIFF, make_zxid(2, 2))] + pairs(run(2, 1, 2))


def test_d_new_epoch_peer_gets_a_diff_of_what_follows():
    window = props(*run(1, 1, 3), *run(2, 1, 2))
    plan = sync_follower(make_zxid(2, 0), make_zxid(2, 2), window)
    assert plan.rule == "d"
    assert shape(plan) == [(P.DIFF, make_zxid(2, 2))] + pairs(run(2, 1, 2))


def test_d_truncate_within_the_epoch():
    # the first window entry after the peer's zxid is in the peer's epoch but past it: TRUNC
    # to the entry before (a window with a hole, as after a leader that skipped counters)
    window = props(*run(1, 1, 3), *run(1, 6, 7))
    plan = sync_follower(make_zxid(1, 4), make_zxid(1, 7), window)
    assert plan.rule == "d"
    assert shape(plan) == [(P.TRUNC, make_zxid(1, 3))] + pairs(run(1, 6, 7))


def test_d_captured_divergent_older_epoch_gets_a_snapshot():
    # captured from 3.8: a follower at 0x100000015 that the leader never had: the next
    # txn of the leader is in epoch 2, and TRUNC may not cross an epoch: SNAP
    window = props(*run(1, 0x10, 0x14), *run(2, 1, 3))
    plan = sync_follower(0x100000015, make_zxid(2, 3), window)
    assert plan.kind == P.SNAP and plan.rule == "d"
    assert shape(plan) == [(P.SNAP, make_zxid(2, 3))]
    # 3.8 then starts forwarding from the peer's zxid, not from the snapshot's
    assert plan.last_queued == 0x100000015


def test_e_txn_log_then_window():
    window = props(*run(1, 10, 12))
    log = props(*run(1, 1, 12))

    def reader(start):
        tail = [p for p in log if p.zxid >= start]
        return TxnLogSlice(tail[0].zxid if tail else None, 1000, tail)

    plan = sync_follower(make_zxid(1, 4), make_zxid(1, 12), window, txn_log=reader, snapshot_size=10_000)
    assert plan.rule == "e"
    assert shape(plan) == [(P.DIFF, make_zxid(1, 12))] + pairs(run(1, 5, 12))
    assert plan.last_queued == make_zxid(1, 12)


def test_e_txn_log_too_big_for_the_snapshot_size_factor():
    window = props(*run(1, 10, 12))
    log = props(*run(1, 1, 12))
    reader = lambda start: TxnLogSlice(start, 4000, [p for p in log if p.zxid >= start])  # noqa: E731
    plan = sync_follower(make_zxid(1, 4), make_zxid(1, 12), window, txn_log=reader, snapshot_size=10_000)
    assert plan.kind == P.SNAP and plan.rule == "e"  # 4000 > 10000 * 0.33
    # a zero snapshot size means no limit (3.8 when no snapshot file is found)
    plan = sync_follower(make_zxid(1, 4), make_zxid(1, 12), window, txn_log=reader, snapshot_size=0)
    assert plan.kind == P.DIFF
    # a negative factor turns txn-log sync off
    plan = sync_follower(make_zxid(1, 4), make_zxid(1, 12), window, txn_log=reader, snapshot_size_factor=-1)
    assert plan.kind == P.SNAP and plan.rule == "f"


def test_e_txn_log_that_does_not_hold_the_peer_txn():
    window = props(*run(1, 10, 12))
    log = props(*run(1, 6, 12))  # purged before the peer's txn
    reader = lambda start: TxnLogSlice(log[0].zxid, 100, [p for p in log if p.zxid >= start])  # noqa: E731
    plan = sync_follower(make_zxid(1, 4), make_zxid(1, 12), window, txn_log=reader)
    assert plan.kind == P.SNAP


def test_e_gap_between_txn_log_and_window():
    window = props(*run(1, 10, 12))
    log = props(*run(1, 1, 7))  # the log ends before the window starts
    reader = lambda start: TxnLogSlice(start, 100, [p for p in log if p.zxid >= start])  # noqa: E731
    plan = sync_follower(make_zxid(1, 4), make_zxid(1, 12), window, txn_log=reader)
    assert plan.kind == P.SNAP and plan.rule == "e"
    assert shape(plan) == [(P.SNAP, make_zxid(1, 12))]
    assert plan.last_queued == make_zxid(1, 12)


def test_f_wiped_follower_gets_a_snapshot():
    # captured from 3.8: a follower whose data dir was wiped reports zxid 0
    window = props(*run(1, 1, 5))
    log = props(*run(1, 1, 5))
    reader = lambda start: TxnLogSlice(log[0].zxid, 100, [p for p in log if p.zxid >= start])  # noqa: E731
    plan = sync_follower(0, make_zxid(1, 5), window, txn_log=reader)
    assert plan.kind == P.SNAP
    assert shape(plan) == [(P.SNAP, make_zxid(1, 5))]
    plan = sync_follower(0, make_zxid(1, 5), window)
    assert plan.kind == P.SNAP and plan.rule == "f"


def test_empty_window_uses_last_processed():
    # a leader right after election: no committedLog, lastProcessed <<2, 0>>
    assert shape(sync_follower(make_zxid(2, 0), make_zxid(2, 0), [])) == [(P.DIFF, make_zxid(2, 0))]
    assert shape(sync_follower(make_zxid(1, 7), make_zxid(2, 0), [])) == [(P.SNAP, make_zxid(2, 0))]
    assert shape(sync_follower(make_zxid(2, 3), make_zxid(2, 0), [])) == [(P.TRUNC, make_zxid(2, 0))]


def test_committed_log_keeps_count_plus_one():
    log = CommittedLog(500, props(*run(1, 1, 600)))
    assert len(log) == 501
    assert (log.min_zxid, log.max_zxid) == (make_zxid(1, 100), make_zxid(1, 600))
    assert len(CommittedLog(2, props(*run(1, 1, 9)))) == 3  # the floor of 500 is the config's


def test_window_boundary_diff_or_snap():
    """One txn inside the window: DIFF; one before it, with no txn log: SNAP."""
    log = CommittedLog(500, props(*run(1, 1, 1000)))
    lp = make_zxid(1, 1000)
    assert sync_follower(log.min_zxid, lp, log).kind == P.DIFF
    assert sync_follower(log.min_zxid - 1, lp, log).kind == P.SNAP


@settings(max_examples=300, deadline=None)
@given(
    history=st.lists(st.integers(1, 3), min_size=0, max_size=12),
    cut=st.integers(0, 12),
    extra=st.integers(0, 3),
    window=st.integers(1, 12),
)
def test_property_learner_ends_with_a_prefix_of_the_leader(history, cut, extra, window):
    """Whatever the choice, applying it to a learner whose log is a prefix of the leader's
    (plus possibly txns of its own in the last epoch it shares) gives the leader's log."""
    # the leader's log: epochs ascending, counters dense per epoch
    epochs = sorted(history)
    leader, counters = [], {}
    for e in epochs:
        counters[e] = counters.get(e, 0) + 1
        leader.append(make_zxid(e, counters[e]))
    learner = leader[: min(cut, len(leader))]
    if learner and extra:
        # txns of its own only after the leader's last txn of that epoch (logs have no gaps)
        last = learner[-1]
        if last == max(z for z in leader if z >> 32 == last >> 32):
            learner = learner + [last + k for k in range(1, extra + 1)]
    peer = learner[-1] if learner else 0
    lp = leader[-1] if leader else 0
    win = props(*leader[-window:]) if leader else []
    plan = sync_follower(peer, lp, win)
    if plan.kind == P.SNAP:
        result = list(leader)
    else:
        result = list(learner)
        if plan.kind == P.TRUNC:
            result = [z for z in result if z <= plan.zxid]
        for p in plan.packets[1:]:
            if p.type == P.PROPOSAL:
                result.append(p.zxid)
    assert result == leader
    # every PROPOSAL is followed by its COMMIT
    body = plan.packets[1:]
    assert [p.type for p in body] == [P.PROPOSAL, P.COMMIT] * (len(body) // 2)
