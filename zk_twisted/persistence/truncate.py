"""TRUNC on disk: drop every txn after a zxid (FileTxnSnapLog.truncateLog, FileTxnLog.truncate).

A learner holding txns the new leader never committed (a dead leader's last proposals) is
told TRUNC(zxid): the log file that holds ``zxid`` is cut right after its entry, every later
log file is deleted, and the database is loaded again from what is left.

Where 3.8 is wrong, this is right: 3.8 keeps snapshots named after a zxid past the
truncation point, and its reload then brings the truncated txns back from such a snapshot.
Those snapshots are removed here first, since any of them may hold state past ``zxid``.
Every change is made durable (file, then directory) before the function returns.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .diskio import OS_DISK, DiskIO
from .errors import StorageError
from .files import LOG_PREFIX, SNAPSHOT_PREFIX, sorted_files, zxid_from_name
from .txnlog import LogFileReader

log = logging.getLogger(__name__)


def truncate_log(log_dir: Path, snap_dir: Path, zxid: int, io: DiskIO = OS_DISK) -> int:
    """Cut the logs and snapshots of a data dir back to ``zxid``; -> txns removed.

    When every log file starts after ``zxid`` but a snapshot at or before it is left, that
    snapshot is the state at ``zxid`` and every log file goes (a learner whose only txns are
    a dead leader's first proposals of an epoch, told TRUNC to ``<<epoch, 0>>``: refusing it
    ended the learner's role at each sync, and the ensemble looped through elections).
    Raises StorageError when nothing reaches back to ``zxid`` (3.8: "No log files found to
    truncate!"): the learner's role ends.
    """
    log_dir, snap_dir = Path(log_dir), Path(snap_dir)
    for snap in sorted_files(snap_dir, SNAPSHOT_PREFIX):
        if zxid_from_name(snap.name, SNAPSHOT_PREFIX) > zxid:
            log.warning("Removing %s: it may hold txns after the truncation point 0x%x", snap, zxid)
            io.unlink(snap)
    files = sorted_files(log_dir, LOG_PREFIX)
    holder = None
    for f in files:
        if zxid_from_name(f.name, LOG_PREFIX) <= zxid:
            holder = f
    if holder is None and not any(
        zxid_from_name(snap.name, SNAPSHOT_PREFIX) <= zxid for snap in sorted_files(snap_dir, SNAPSHOT_PREFIX)
    ):
        raise StorageError(
            f"No log files found to truncate to 0x{zxid:x} in {log_dir}! This could happen if you still"
            " have snapshots from an old setup or log files were deleted accidentally"
        )
    removed = 0
    cut = None
    for entry in LogFileReader(holder, decode=True) if holder is not None else ():
        if entry.hdr.zxid > zxid:
            cut = entry.offset if cut is None else cut
            removed += 1
    if cut is not None:
        log.info("Truncating %s at offset %d (after 0x%x)", holder, cut, zxid)
        fd = io.open_write(holder)
        try:
            io.truncate(fd, cut)
            io.fsync(fd)
        finally:
            io.close(fd)
    for f in files:
        if zxid_from_name(f.name, LOG_PREFIX) > zxid:
            removed += sum(1 for _ in LogFileReader(f, decode=False))
            log.info("Removing %s: it starts after the truncation point 0x%x", f, zxid)
            io.unlink(f)
    io.fsync_dir(log_dir)
    if snap_dir != log_dir:
        io.fsync_dir(snap_dir)
    return removed
