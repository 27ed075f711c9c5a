"""currentEpoch and acceptedEpoch, kept as ZooKeeper 3.8 keeps them (QuorumPeer).

Two files in the snapshot directory (``dataDir/version-2``), each the epoch in decimal
ASCII with no newline (QuorumPeer.writeLongToFile). A write goes to ``<name>.tmp``, is
fsync'd, renamed over ``<name>``, and the directory fsync'd (AtomicFileOutputStream, plus
the directory sync 3.8 lacks: ZOOKEEPER-1653 / 2307), so a crash leaves the old value or
the new one, never a torn file.

These calls block on the disk (fsync): the quorum peer runs them off the reactor. The file
operations are the four small functions at the top, the seam a fault-injecting storage
layer replaces in power-loss tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..persistence.diskio import OS_DISK, DiskIO
from .packets import epoch_of

log = logging.getLogger(__name__)

CURRENT_EPOCH = "currentEpoch"
ACCEPTED_EPOCH = "acceptedEpoch"
#: AtomicFileOutputStream.TMP_EXTENSION
TMP_SUFFIX = ".tmp"
#: QuorumPeer.UPDATING_EPOCH_FILENAME: a learner's SNAP snapshot is on disk, its
#: currentEpoch not yet (a crash between the two must not leave an unstartable data dir)
UPDATING_EPOCH = "updatingEpoch"


class EpochFileError(Exception):
    """An epoch file that is unreadable or disagrees with the database; names the file."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)


# ---------------------------------------------------------------------------- file ops
def read_file_text(path: Path) -> str | None:
    """The file's text, or None if it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("ascii", "replace")
    except FileNotFoundError:
        return None


def write_file_durably(io: DiskIO, path: Path, data: bytes, fsync: bool = True) -> None:
    """QuorumPeer.writeLongToFile's AtomicFileOutputStream: ``path.tmp`` written and fsync'd,
    renamed over ``path``, then the directory fsync'd, so a crash leaves the old value or the
    new one, whole (ZOOKEEPER-1653 / 2307), and a crash before the rename leaves ``.tmp``."""
    io.write_atomic(path, data, fsync, tmp=path.with_name(path.name + TMP_SUFFIX))


def file_exists(path: Path) -> bool:
    return path.exists()


# ---------------------------------------------------------------------------- format
def parse_epoch(path: Path, text: str) -> int:
    """QuorumPeer.readLongFromFile: Long.parseLong of the first line."""
    line = text.splitlines()[0] if text else ""
    try:
        if not line or line.strip() != line or "_" in line:
            raise ValueError
        value = int(line, 10)
    except ValueError:
        raise EpochFileError(path, f"found {line!r}, not an epoch (a decimal long)") from None
    if not -(1 << 63) <= value < 1 << 63:
        raise EpochFileError(path, f"found {line!r}, out of range for a long")
    return value


def format_epoch(value: int) -> bytes:
    """Long.toString, no newline."""
    return str(value).encode("ascii")


# ---------------------------------------------------------------------------- the files
@dataclass
class EpochFiles:
    """The two epoch files of one data dir; ``snap_dir`` is ``dataDir/version-2``."""

    snap_dir: Path
    fsync: bool = True
    current_epoch: int = -1
    accepted_epoch: int = -1
    #: every file operation goes through it (tests pass one that simulates power loss)
    io: DiskIO = field(default=OS_DISK, repr=False)

    def __post_init__(self) -> None:
        self.snap_dir = Path(self.snap_dir)

    def path(self, name: str) -> Path:
        return self.snap_dir / name

    def read(self, name: str) -> int | None:
        """The epoch stored in ``name`` (or ``name.tmp``), None if the file is missing."""
        p = self.path(name)
        text = read_file_text(p)
        return None if text is None else parse_epoch(p, text)

    def write(self, name: str, value: int) -> None:
        write_file_durably(self.io, self.path(name), format_epoch(value), self.fsync)

    def set_current_epoch(self, epoch: int) -> None:
        """QuorumPeer.setCurrentEpoch: the file first, then the value in memory."""
        self.write(CURRENT_EPOCH, epoch)
        self.current_epoch = epoch

    def begin_epoch_update(self) -> None:
        """Learner.syncWithLeader, NEWLEADER after a SNAP: mark, durably, that a snapshot of
        the new epoch may reach the disk before currentEpoch does."""
        fd = self.io.create(self.path(UPDATING_EPOCH))
        try:
            if self.fsync:
                self.io.fsync(fd)
        finally:
            self.io.close(fd)
        if self.fsync:
            self.io.fsync_dir(self.snap_dir)

    def end_epoch_update(self) -> None:
        """currentEpoch is written: the mark goes (if it is there)."""
        path = self.path(UPDATING_EPOCH)
        if file_exists(path):
            self.io.unlink(path)
            if self.fsync:
                self.io.fsync_dir(self.snap_dir)

    def set_accepted_epoch(self, epoch: int) -> None:
        self.write(ACCEPTED_EPOCH, epoch)
        self.accepted_epoch = epoch

    def load(self, last_processed_zxid: int) -> tuple[int, int]:
        """QuorumPeer.loadDataBase's epoch half, after the database is restored.

        A missing file is created from the epoch of ``last_processed_zxid`` (an upgrade from a
        version without them). A currentEpoch older than the last zxid's epoch is taken from
        ``currentEpoch.tmp`` if a crash left one (the rename did not happen), else it is an
        error; an acceptedEpoch below currentEpoch is an error. Returns (current, accepted).
        """
        zxid_epoch = epoch_of(last_processed_zxid)
        current = self.read(CURRENT_EPOCH)
        if current is None:
            log.info(
                "%s not found! Creating with a reasonable default of %d. This should only happen"
                " when you are upgrading your installation",
                CURRENT_EPOCH,
                zxid_epoch,
            )
            self.write(CURRENT_EPOCH, zxid_epoch)
            current = zxid_epoch
        self.current_epoch = current
        updating = self.path(UPDATING_EPOCH)
        if file_exists(updating):
            log.info(
                "%s found. The server was terminated after taking a snapshot but before updating"
                " current epoch. Setting current epoch to %d.",
                UPDATING_EPOCH,
                zxid_epoch,
            )
            self.set_current_epoch(zxid_epoch)
            self.end_epoch_update()
            current = zxid_epoch
        if zxid_epoch > current:
            tmp_name = CURRENT_EPOCH + TMP_SUFFIX
            tmp = self.path(tmp_name)
            if not file_exists(tmp):
                raise EpochFileError(
                    self.path(CURRENT_EPOCH),
                    f"the current epoch, {current:#x}, is older than the last zxid, {last_processed_zxid:#x}"
                    f" (and there is no {tmp_name})",
                )
            tmp_epoch = self.read(tmp_name)
            log.info("%s found. Setting current epoch to %d.", tmp, tmp_epoch)
            self.set_current_epoch(tmp_epoch)
            current = tmp_epoch
        accepted = self.read(ACCEPTED_EPOCH)
        if accepted is None:
            log.info(
                "%s not found! Creating with a reasonable default of %d. This should only happen"
                " when you are upgrading your installation",
                ACCEPTED_EPOCH,
                zxid_epoch,
            )
            self.write(ACCEPTED_EPOCH, zxid_epoch)
            accepted = zxid_epoch
        self.accepted_epoch = accepted
        if accepted < current:
            raise EpochFileError(
                self.path(ACCEPTED_EPOCH),
                f"the accepted epoch, {accepted:#x}, is less than the current epoch, {current:#x}",
            )
        return current, accepted
