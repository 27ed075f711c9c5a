"""A DiskIO that records every write, and what a power loss would have left of them.

:class:`RecordingDiskIO` passes each call on to the real disk (the server runs as usual)
and appends it to ``ops``; a test adds its own markers (``mark``: "this reply left the
server", "this snapshot was reported taken") to the same sequence.  :func:`power_loss`
then says what the data dirs would hold had the power gone after any prefix of ``ops``:

* file data: exactly what the file's last fsync / fdatasync covered; everything written
  after it is gone, except that the very last write before the cut may have reached the
  disk in part or whole (a torn write: any prefix of it);
* directory entries (create, rename, unlink): those a directory fsync covered, plus any
  further prefix of them (a journaling file system commits its metadata in order, on its
  own schedule, so a rename may well survive without the fsync that would guarantee it).

Reads are not recorded (restore reads the real disk).  Used by test_powerloss.py; the
epoch files of the quorum can be checked the same way.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

from zk_twisted.persistence.diskio import DiskIO


class RecordingDiskIO(DiskIO):
    """Records ops as tuples: ("create", path, ino), ("pwrite", ino, offset, data),
    ("sync", ino), ("truncate", ino, size), ("rename", src, dst), ("unlink", path),
    ("dirsync", dir), ("mark", label, value).  Paths are strings.

    ``drop_sync(path)``: a test's way to remove an fsync (the call is recorded as not made
    and not made on the real disk either), to see the checks bite.  The fsyncs that are
    made are recorded but not passed on: what they make durable is the model's business,
    and the machine's disk is shared.
    """

    def __init__(self, drop_sync=None) -> None:
        self.ops: list[tuple] = []
        self.lock = threading.Lock()
        self.drop_sync = drop_sync or (lambda path: False)
        self._fd_ino: dict[int, int] = {}
        self._path_ino: dict[str, int] = {}
        self._ino_path: dict[int, str] = {}
        self._inos = itertools.count(1)

    def _add(self, op: tuple) -> None:
        with self.lock:
            self.ops.append(op)

    def mark(self, label: str, value) -> None:
        self._add(("mark", label, value))

    def create(self, path, mode=0o644):
        fd = super().create(path, mode)
        ino = next(self._inos)
        self._fd_ino[fd] = ino
        self._path_ino[str(path)] = ino
        self._ino_path[ino] = str(path)
        self._add(("create", str(path), ino))
        return fd

    def open_write(self, path):
        fd = super().open_write(path)
        ino = self._path_ino.get(str(path))
        if ino is None:  # a file from before the recording: its content counts as durable
            ino = next(self._inos)
            self._path_ino[str(path)] = ino
            self._ino_path[ino] = str(path)
            self._add(("exists", str(path), ino, Path(path).read_bytes()))
        self._fd_ino[fd] = ino
        return fd

    def pwrite(self, fd, data, offset):
        n = super().pwrite(fd, data, offset)
        self._add(("pwrite", self._fd_ino[fd], offset, bytes(data[:n])))
        return n

    def _sync(self, fd) -> None:
        ino = self._fd_ino[fd]
        if not self.drop_sync(self._ino_path.get(ino, "")):
            self._add(("sync", ino))

    def fsync(self, fd):
        self._sync(fd)

    def fdatasync(self, fd):
        self._sync(fd)

    def truncate(self, fd, size):
        super().truncate(fd, size)
        self._add(("truncate", self._fd_ino[fd], size))

    def close(self, fd):
        super().close(fd)
        self._fd_ino.pop(fd, None)

    def rename(self, src, dst):
        super().rename(src, dst)
        ino = self._path_ino.pop(str(src), None)
        if ino is not None:
            self._path_ino[str(dst)] = ino
            self._ino_path[ino] = str(dst)
        self._add(("rename", str(src), str(dst)))

    def unlink(self, path):
        super().unlink(path)
        self._path_ino.pop(str(path), None)
        self._add(("unlink", str(path)))

    def fsync_dir(self, directory):
        if not self.drop_sync(str(directory)):
            self._add(("dirsync", str(directory)))


class NoSyncDiskIO(DiskIO):
    """Real writes, no fsync: for restoring from a simulated crash, whose own durability is
    not what is under test (and the machine's disk is shared)."""

    def fsync(self, fd):
        pass

    def fdatasync(self, fd):
        pass

    def fsync_dir(self, directory):
        pass


@dataclass
class Crash:
    """What the disk holds after a power loss: path -> bytes, and the markers before it."""

    files: dict[str, bytes]
    marks: list[tuple[str, object]] = field(default_factory=list)


def power_loss(ops: list[tuple], cut: int, rng: random.Random, metadata: str, tear: bool) -> Crash:
    """The disk after a power loss just before ``ops[cut]``.  ``metadata``: which of the
    directory changes not yet fsync'd made it: "synced" (none), "all", or "random" (a
    prefix, ``rng`` says how long); ``tear``: the last write before the cut made it, in
    part or whole."""
    volatile: dict[int, bytearray] = {}
    durable: dict[int, bytes] = {}
    journal: list[tuple] = []
    synced_meta = 0
    marks = []
    last_write = None
    for op in ops[:cut]:
        kind = op[0]
        if kind == "create":
            volatile[op[2]] = bytearray()
            durable[op[2]] = b""
            journal.append(("link", op[1], op[2]))
        elif kind == "exists":
            volatile[op[2]] = bytearray(op[3])
            durable[op[2]] = op[3]
            journal.append(("link", op[1], op[2]))
            synced_meta = len(journal)
        elif kind == "pwrite":
            _, ino, offset, data = op
            buf = volatile[ino]
            if len(buf) < offset:
                buf.extend(bytes(offset - len(buf)))
            buf[offset : offset + len(data)] = data
            last_write = op
        elif kind == "sync":
            durable[op[1]] = bytes(volatile[op[1]])
            if last_write is not None and last_write[1] == op[1]:
                last_write = None
        elif kind == "truncate":
            buf = volatile[op[1]]
            del buf[op[2] :]
        elif kind in ("rename", "unlink"):
            journal.append(op)
        elif kind == "dirsync":
            synced_meta = len(journal)
        elif kind == "mark":
            marks.append((op[1], op[2]))
    upto = {"synced": synced_meta, "all": len(journal)}.get(metadata)
    if upto is None:
        upto = rng.randint(synced_meta, len(journal))
    names: dict[str, int] = {}
    for entry in journal[:upto]:
        if entry[0] == "link":
            names[entry[1]] = entry[2]
        elif entry[0] == "rename":
            ino = names.pop(entry[1], None)
            if ino is None:
                names.pop(entry[2], None)  # what was renamed never became durable: dst is gone too
            else:
                names[entry[2]] = ino
        else:
            names.pop(entry[1], None)
    content = dict(durable)
    if tear and last_write is not None:
        _, ino, offset, data = last_write
        part = data[: rng.randint(1, len(data))]  # some of it, or all of it
        buf = bytearray(content[ino])
        if len(buf) < offset:
            buf.extend(bytes(offset - len(buf)))
        buf[offset : offset + len(part)] = part
        content[ino] = bytes(buf)
    return Crash({path: content[ino] for path, ino in names.items()}, marks)


def materialize(crash: Crash, old_root: Path, new_root: Path) -> None:
    """Write what ``crash`` left under ``old_root`` into the same places under ``new_root``."""
    for path, data in crash.files.items():
        rel = Path(path).relative_to(old_root)
        target = new_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
