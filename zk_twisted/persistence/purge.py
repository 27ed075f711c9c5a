"""Purging old snapshots and logs: PurgeTxnLog and DatadirCleanupManager of 3.8.

Keep the ``count`` newest valid snapshots; delete every snapshot older than the oldest one
kept, and every log older than it except the log that the oldest kept snapshot needs to
replay from (the last one starting at or before its zxid).  Restoring from any kept
snapshot therefore still finds every txn after it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .diskio import OS_DISK, DiskIO
from .files import LOG_PREFIX, SNAPSHOT_PREFIX, sorted_files, zxid_from_name

log = logging.getLogger(__name__)

MIN_RETAIN = 3
COUNT_ERR_MSG = "count should be greater than or equal to 3"


@dataclass
class PurgeResult:
    kept_snapshots: list[Path]
    #: (file, its modification time) for every file deleted
    removed: list[tuple[Path, float]]


def purge(data_dir: Path, data_log_dir: Path | None, count: int, io: DiskIO = OS_DISK) -> PurgeResult:
    """PurgeTxnLog.purge: ``data_dir`` holds the snapshots, ``data_log_dir`` the logs
    (both the directories that contain ``version-2``, as in zoo.cfg)."""
    from .filetxnsnaplog import FileTxnSnapLog  # the purge command needs no reactor or server

    if count < MIN_RETAIN:
        raise ValueError(COUNT_ERR_MSG)
    snaplog = FileTxnSnapLog(Path(data_dir), Path(data_log_dir) if data_log_dir else None)
    snaps = snaplog.find_n_valid_snapshots(count)
    if not snaps:
        return PurgeResult([], [])
    least = zxid_from_name(snaps[-1].name, SNAPSHOT_PREFIX)
    retained = set(snaplog.snapshot_logs(least))
    victims = [
        f
        for f in sorted_files(snaplog.log_dir, LOG_PREFIX)
        if f not in retained and zxid_from_name(f.name, LOG_PREFIX) < least
    ]
    victims += [
        f
        for f in sorted_files(snaplog.data_dir, SNAPSHOT_PREFIX)
        if zxid_from_name(f.name, SNAPSHOT_PREFIX) < least
    ]
    removed = []
    for f in victims:
        log.info("Removing file: %s", f)
        try:
            mtime = f.stat().st_mtime
            io.unlink(f)
        except OSError as e:
            log.warning("Failed to remove %s: %s", f, e)
            continue
        removed.append((f, mtime))
    return PurgeResult(snaps, removed)
