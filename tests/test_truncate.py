"""TRUNC on disk (zk_twisted/persistence/truncate.py), on log files our writer made."""

from __future__ import annotations

import pytest
from test_persistence import PREALLOC, write_log

from zk_twisted.persistence.errors import StorageError
from zk_twisted.persistence.files import make_snapshot_name
from zk_twisted.persistence.filetxnsnaplog import FileTxnSnapLog
from zk_twisted.persistence.truncate import truncate_log
from zk_twisted.persistence.txnlog import LogFileReader, last_logged_zxid
from zk_twisted.server.datatree import DataTree
from zk_twisted.server.zkdatabase import ZKDatabase


def zxids(log_dir):
    return [e.hdr.zxid for f in sorted(log_dir.glob("log.*")) for e in LogFileReader(f)]


def test_truncation_cuts_the_holding_file_and_drops_later_ones(tmp_path):
    d = tmp_path / "version-2"
    write_log(d, 1, 10)  # log.1: 1..10
    write_log(d, 11, 5)  # log.b: 11..15
    assert truncate_log(d, d, 7) == 8
    assert zxids(d) == list(range(1, 8))
    assert last_logged_zxid(d) == 7
    # what is left still restores, and ends where the leader said
    db = ZKDatabase(DataTree(extended_types=True))
    FileTxnSnapLog(tmp_path, prealloc=PREALLOC, trust_empty_snapshot=True).restore(db)
    assert db.last_processed_zxid == 7 and "/n8" not in db.tree.nodes and "/n7" in db.tree.nodes


def test_truncation_to_the_last_zxid_changes_nothing(tmp_path):
    d = tmp_path / "version-2"
    write_log(d, 1, 4)
    assert truncate_log(d, d, 4) == 0
    assert zxids(d) == [1, 2, 3, 4]


def test_snapshots_past_the_truncation_point_are_removed(tmp_path):
    # 3.8 keeps them, and its reload brings the truncated txns back
    d = tmp_path / "version-2"
    write_log(d, 1, 10)
    newer = d / make_snapshot_name(9)
    older = d / make_snapshot_name(3)
    newer.write_bytes(b"x")
    older.write_bytes(b"x")
    truncate_log(d, d, 5)
    assert not newer.exists() and older.exists()


def test_no_log_reaching_back_is_an_error(tmp_path):
    d = tmp_path / "version-2"
    write_log(d, 20, 3)
    with pytest.raises(StorageError, match="No log files found to truncate"):
        truncate_log(d, d, 10)


def test_a_log_that_starts_after_the_point_goes_whole_when_a_snapshot_is_there(tmp_path):
    """A learner whose only txn is a dead leader's first proposal of epoch 1, told TRUNC to
    <<1, 0>> by a leader of epoch 2 that has no txn: snapshot.0 is the state at <<1, 0>>,
    the log goes.  (Refused, the learner's role ended at every sync and a 3-member ensemble
    looped through elections: conformance.mutants' crash_ackers schedule, seed 257.)"""
    d = tmp_path / "version-2"
    write_log(d, 101, 2)  # as log.100000001 (the helper numbers cxids by zxid: small ones)
    (d / make_snapshot_name(0)).write_bytes(b"x")
    assert truncate_log(d, d, 100) == 2
    assert zxids(d) == [] and (d / make_snapshot_name(0)).exists()
    write_log(d, 101, 2)
    (d / make_snapshot_name(0)).unlink()
    with pytest.raises(StorageError, match="No log files found to truncate"):
        truncate_log(d, d, 100)  # nothing reaches back to 100: still refused
