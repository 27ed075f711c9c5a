"""The leader's committed log (what DIFF syncs come from) read from real log files."""

from __future__ import annotations

from test_persistence import write_log

from zk_twisted.config import DEFAULT_COMMIT_LOG_COUNT
from zk_twisted.quorum.roles import last_logged_proposals


def test_committed_log_spans_epochs_as_3_8s_does(tmp_path):
    """A leader of epoch 3 whose log holds 600 txns of epoch 2 and 3 of epoch 3 keeps the
    last 501 of them (commitLogCount + 1, as 3.8's ZKDatabase), not only epoch 3's: a
    learner a few txns behind in epoch 2 gets a DIFF, not a SNAP.  (The window was
    reckoned as ``last - 500`` in zxid space, which reaches back no further than the
    epoch's first counter.)"""
    d = tmp_path / "version-2"
    e2, e3 = 2 << 32, 3 << 32
    write_log(d, e2 + 1, 250)
    write_log(d, e2 + 251, 350)
    write_log(d, e3 + 1, 3)
    window = last_logged_proposals(d, e3 + 3, DEFAULT_COMMIT_LOG_COUNT + 1)
    zxids = [p.zxid for p in window]
    assert len(zxids) == 501
    assert zxids[-1] == e3 + 3 and zxids[-4] == e2 + 600 and zxids[0] == e2 + 103
    assert zxids == sorted(zxids)
    # nothing past the leader's last processed zxid, and a short log is taken whole
    assert [p.zxid for p in last_logged_proposals(d, e2 + 600, 501)][-1] == e2 + 600
    assert len(last_logged_proposals(d, e3 + 3, 10_000)) == 603
    assert last_logged_proposals(tmp_path / "empty", 5, 501) == []
