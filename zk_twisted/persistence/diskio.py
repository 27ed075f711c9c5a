"""DiskIO: the one seam every write of the storage layer goes through.

The txn log, snapshots, torn-tail repair and purge (and the quorum's epoch files) create,
write, fsync, rename and unlink only through a :class:`DiskIO`.  The default,
:data:`OS_DISK`, is plain ``os`` calls; a test passes one that records every call and can
then say what a power loss at any moment would have left on disk (what was fsync'd, and
the directory entries that were fsync'd), which is the only proof of durability that a
``kill -9`` (which keeps the page cache) cannot give.

Reads do not go through the seam: restoring reads whatever the disk holds.

File handles are plain fds (ints).  Every method blocks: call them from a worker thread,
never on the reactor.
"""

from __future__ import annotations

import os
from pathlib import Path

from .files import TMP_PREFIX


class DiskIO:
    """Plain ``os`` calls.  Subclasses (tests) override the primitives, never the compounds."""

    # ---- primitives
    def create(self, path: Path, mode: int = 0o644) -> int:
        """Open ``path`` for writing, created empty (O_CREAT | O_TRUNC)."""
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def open_write(self, path: Path) -> int:
        """Open an existing file for writing, its content kept."""
        return os.open(path, os.O_WRONLY)

    def pwrite(self, fd: int, data, offset: int) -> int:
        """Write ``data`` at ``offset``; may write less (see :meth:`pwrite_all`)."""
        return os.pwrite(fd, data, offset)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def fdatasync(self, fd: int) -> None:
        """The data (and the size needed to read it back) are durable after this."""
        os.fdatasync(fd)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def close(self, fd: int) -> None:
        os.close(fd)

    def rename(self, src: Path, dst: Path) -> None:
        """Atomically replace ``dst`` by ``src`` (durable after :meth:`fsync_dir`)."""
        os.replace(src, dst)

    def unlink(self, path: Path) -> None:
        os.unlink(path)

    def fsync_dir(self, directory: Path) -> None:
        """Make the creates, renames and unlinks done in ``directory`` durable."""
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---- compounds, built only from the primitives above
    def pwrite_all(self, fd: int, data, offset: int) -> int:
        """Write all of ``data`` at ``offset``; returns the offset after it."""
        view = memoryview(data)
        while view:
            n = self.pwrite(fd, view, offset)
            view = view[n:]
            offset += n
        return offset

    def write_atomic(self, path: Path, data: bytes, sync: bool = True, tmp: Path | None = None) -> None:
        """Replace ``path`` by a file holding ``data``, so that a crash at any moment leaves
        either the old file or the new one, complete (AtomicFileOutputStream): write a temp
        file, fsync it, rename it over ``path``, fsync the directory.  ``sync=False``
        (forceSync=no) keeps the order but skips the fsyncs.  ``tmp``: the temp file's name
        (default ``tmp.<name>``, which restore cleans up)."""
        path = Path(path)
        if tmp is None:
            tmp = path.with_name(f"{TMP_PREFIX}{path.name}")
        fd = self.create(tmp)
        try:
            self.pwrite_all(fd, data, 0)
            if sync:
                self.fsync(fd)
        finally:
            self.close(fd)
        self.rename(tmp, path)
        if sync:
            self.fsync_dir(path.parent)


#: what the server uses
OS_DISK = DiskIO()
