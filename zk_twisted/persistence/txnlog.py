"""The txn log in ZooKeeper 3.8's format (FileTxnLog): ``dataLogDir/version-2/log.<hex zxid>``.

A file is a FileHeader (magic ``ZKLG``, version 2, dbid 0) followed by entries::

    long  Adler-32 of the entry bytes
    int   length of the entry bytes
    ...   TxnHeader, the txn record (if any), TxnDigest (Util.marshallTxnEntry)
    byte  'B' (end of record)

Files are preallocated in ``preAllocSize`` steps (FilePadding), so the unwritten rest of a
file reads as zeros: an entry of length 0 is the normal end of a file.

Reading is stricter than 3.8 in one way: only a *torn tail* ends a file quietly.  An entry
that fails to parse or to checksum is torn when nothing but zeros follows it (a write cut
short, or never started); anything else is corruption, reported with file and offset
instead of being skipped (3.8 treats a missing end-of-record byte as the end of the file
wherever it happens, and stops with a bare "CRC check failed" otherwise).
"""

from __future__ import annotations

import errno
import logging
import mmap
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zope.interface import implementer

from ..interfaces import ITxnLog
from ..jute import JuteError
from ..jute import records as R
from ..server.txn import decode_txn, encode_txn
from .diskio import OS_DISK, DiskIO
from .errors import CorruptFileError
from .files import LOG_PREFIX, log_files_for, make_log_name, sorted_files, zxid_from_name

log = logging.getLogger(__name__)

TXNLOG_MAGIC = int.from_bytes(b"ZKLG", "big")
TXNLOG_VERSION = 2
#: FileTxnLog.dbId is never set in 3.8: every log says 0
LOG_DBID = 0
DEFAULT_PREALLOC = 64 * 1024 * 1024
EOR = 0x42  # 'B'

_FRAME = struct.Struct(">qi")  # checksum, length
_ZXID = struct.Struct(">q")  # TxnHeader.zxid, 12 bytes into an entry's body
_HEADER_SIZE = 16
_ZEROS = bytes(1 << 20)


def marshal_entry(hdr, txn, digest=None) -> bytes:
    """One complete log entry: checksum, length, Util.marshallTxnEntry bytes, 'B'."""
    return frame_entry(encode_txn(hdr, txn, digest))


def frame_entry(body: bytes) -> bytes:
    """A log entry around Util.marshallTxnEntry bytes already made (a PROPOSAL's data)."""
    return _FRAME.pack(zlib.adler32(body), len(body)) + body + b"B"


def padded_size(position: int, file_size: int, prealloc: int) -> int:
    """FilePadding.calculateFileSizeWithPadding: grow by whole blocks near the end."""
    if prealloc > 0 and position + 4096 >= file_size:
        if position > file_size:
            file_size = position + prealloc
            file_size -= file_size % prealloc
        else:
            file_size += prealloc
    return file_size


@implementer(ITxnLog)
class FileTxnLog:
    """Appends entries to the current log file; blocking, used from one writer thread.

    ``append`` only buffers; ``commit`` writes everything buffered with one write and one
    fdatasync (forceSync=yes).  A new file starts with the first append after
    :meth:`roll_log` (ZooKeeper rolls after taking a snapshot).
    """

    def __init__(
        self,
        log_dir: Path,
        prealloc: int = DEFAULT_PREALLOC,
        force_sync: bool = True,
        fsync_warning_ms: int = 1000,
        size_limit: int = -1,
        io: DiskIO = OS_DISK,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.io = io
        #: zookeeper.txnLogSizeLimitInKb (bytes; <= 0: none): roll once a file holds this much
        self.size_limit = size_limit
        self.prealloc = prealloc
        self.force_sync = force_sync
        self.fsync_warning_ms = fsync_warning_ms
        self.last_zxid_seen = 0
        #: how long the last fdatasync took (ms), -1 before the first one
        self.sync_elapsed_ms = -1.0
        self.current_path: Path | None = None
        self._fd: int | None = None
        self._pos = 0
        self._size = 0
        self._dirty = False
        self._pending: list[bytes] = []
        self._first_zxid = 0

    def append(self, hdr, txn, digest=None) -> bool:
        """Buffer one txn; False (nothing logged) when ``hdr`` is None, as FileTxnLog.append."""
        if hdr is None:
            return False
        self.append_entry(hdr.zxid, marshal_entry(hdr, txn, digest))
        return True

    def append_entry(self, zxid: int, entry: bytes) -> None:
        """Buffer an entry made by :func:`marshal_entry` (the sync stage marshals on the reactor)."""
        self.append_entries([(zxid, entry)])

    def append_entries(self, entries: list[tuple[int, bytes]]) -> None:
        """Buffer ``(zxid, entry)`` pairs, in zxid order (a batch of the sync stage)."""
        first = entries[0][0]
        if first <= self.last_zxid_seen:
            log.warning("Current zxid 0x%x is <= 0x%x", first, self.last_zxid_seen)
        self.last_zxid_seen = max(self.last_zxid_seen, entries[-1][0])
        if not self._pending:
            self._first_zxid = first
        self._pending += [entry for _, entry in entries]

    def commit(self) -> float:
        """Write what was appended, then fdatasync it (forceSync): the txns are durable after this.

        Returns how long the fdatasync took (ms; 0 without one).
        """
        if self._pending:
            if self._fd is None:
                self._open(self._first_zxid)
            data = b"".join(self._pending)
            self._pending = []
            end = self._pos + len(data)
            size = padded_size(end, self._size, self.prealloc)
            io = self.io
            if size != self._size:
                io.pwrite(self._fd, b"\0", size - 1)
                self._size = size
            io.pwrite_all(self._fd, data, self._pos)
            self._pos = end
            self._dirty = True
        elapsed = 0.0
        if self._dirty and self.force_sync:
            t0 = time.perf_counter()
            self.io.fdatasync(self._fd)
            elapsed = self.sync_elapsed_ms = (time.perf_counter() - t0) * 1000.0
            if elapsed > self.fsync_warning_ms:
                log.warning(
                    "fsync-ing the write ahead log took %dms which will adversely effect operation latency. "
                    "File size is %d bytes. See the ZooKeeper troubleshooting guide",
                    elapsed,
                    self._size,
                )
        self._dirty = False
        if 0 < self.size_limit < self._pos:
            log.debug("Log size limit reached: %d", self._pos)
            self._close_fd()
        return elapsed

    def _open(self, zxid: int) -> None:
        name = make_log_name(zxid)
        log.info("Creating new log file: %s", name)
        path = self.log_dir / name
        fd = self.io.create(path)
        self._fd = fd
        self.current_path = path
        header = R.FileHeader(TXNLOG_MAGIC, TXNLOG_VERSION, LOG_DBID).to_bytes()
        self._pending.insert(0, header)
        self._pos = 0
        self._size = 0
        if self.force_sync:
            self.io.fsync_dir(self.log_dir)

    def roll_log(self) -> None:
        """Close the current file (already committed); the next append starts a new one."""
        if self._pending:
            self.commit()
        self._close_fd()

    def close(self) -> None:
        if self._pending or self._dirty:
            self.commit()
        self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            self.io.close(self._fd)
            self._fd = None
            self.current_path = None

    @property
    def size(self) -> int:
        """Bytes of txns written to the current file (not counting preallocation)."""
        return self._pos


# ---------------------------------------------------------------------------- reading
@dataclass(slots=True)
class LogEntry:
    hdr: object
    txn: object
    digest: object
    offset: int
    checksum: int
    body: bytes


class LogFileReader:
    """The entries of one log file, in order; see the module docstring for the tail rule.

    After iteration: ``end`` is the offset just past the last good entry (0 when even the
    header is torn), ``torn`` whether non-zero bytes follow ``end`` (a torn tail that a
    writer should cut off before the file is used again), ``count`` the entries read.
    With ``decode=False`` entries are framed and checksummed but not decoded.  Entries whose
    zxid is below ``skip_below`` are framed, checksummed and counted but neither decoded nor
    yielded: a reader starting at a zxid deep in a file (a learner fast-forwarding 50,000
    entries into the log, the leader reading its last 500) skips the rest at a fraction of
    the cost (FileTxnIterator reads its way there too).
    """

    def __init__(
        self, path: Path, max_entry: int = 2 * 0xFFFFF, decode: bool = True, skip_below: int | None = None
    ) -> None:
        self.path = Path(path)
        self.max_entry = max_entry
        self.decode = decode
        self.skip_below = skip_below
        self.header: object | None = None
        self.end = 0
        self.torn = False
        self.count = 0
        self._last_nonzero = -2
        self._fd = -1

    def __iter__(self) -> Iterator[LogEntry]:
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return
            self._fd = f.fileno()
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                yield from self._entries(mm, size)

    def _entries(self, mm, size: int) -> Iterator[LogEntry]:
        try:
            self.header = R.FileHeader.from_bytes(mm, 0) if size >= _HEADER_SIZE else None
        except JuteError:
            self.header = None
        if self.header is None or self.header.magic != TXNLOG_MAGIC:
            # a header cut short (nothing after it) is a torn tail too; a wrong one is not
            last = self._last_nonzero_byte(mm, size)
            if last >= _HEADER_SIZE:
                magic = self.header.magic if self.header is not None else None
                raise CorruptFileError(self.path, 0, f"invalid magic number {magic} != {TXNLOG_MAGIC}")
            self.header = None
            self.end = 0
            self.torn = last >= 0
            return
        off = _HEADER_SIZE
        self.end = off
        if self.skip_below is not None:
            off = self._skip(mm, size, off, self.skip_below)
        unpack = _FRAME.unpack_from
        while True:
            if off + 12 > size:
                self._stop(mm, size, off, size, "truncated entry")
                return
            crc, n = unpack(mm, off)
            if n <= 0 or n > self.max_entry:
                self._stop(mm, size, off, off + 12, f"impossible entry length {n}" if n else "empty entry")
                return
            end = off + 13 + n
            if end > size:
                self._stop(mm, size, off, size, "truncated entry")
                return
            if mm[end - 1] != EOR:
                self._stop(mm, size, off, end, "missing end-of-record byte")
                return
            body = mm[off + 12 : end - 1]
            if zlib.adler32(body) != crc:
                self._stop(mm, size, off, end, "checksum mismatch")
                return
            if self.decode:
                try:
                    hdr, txn, digest = decode_txn(body)
                except JuteError as e:
                    raise CorruptFileError(self.path, off, f"undecodable txn: {e}") from None
            else:
                hdr = txn = digest = None
            self.count += 1
            self.end = end
            yield LogEntry(hdr, txn, digest, off, crc, body)
            off = end

    def _skip(self, mm, size: int, off: int, skip_below: int) -> int:
        """Frame and checksum the leading entries below ``skip_below`` without copying or
        decoding them; returns the offset of the first other one.  Anything odd stops the
        skipping there, for the main loop to judge as it judges every entry."""
        unpack = _FRAME.unpack_from
        zxid_at = _ZXID.unpack_from
        adler32 = zlib.adler32
        max_entry = self.max_entry
        count = 0
        with memoryview(mm) as view:
            while off + 32 <= size:
                crc, n = unpack(mm, off)
                if n < 20 or n > max_entry:
                    break
                end = off + 13 + n
                if end > size or mm[end - 1] != EOR or zxid_at(mm, off + 24)[0] >= skip_below:
                    break
                if adler32(view[off + 12 : end - 1]) != crc:
                    break
                count += 1
                off = end
        if count:
            self.count += count
            self.end = off
        return off

    def _stop(self, mm, size: int, off: int, extent: int, reason: str) -> None:
        """The entry at ``off`` (spanning at most to ``extent``) is bad: torn tail, or corruption."""
        last = self._last_nonzero_byte(mm, size)
        if last >= extent:
            raise CorruptFileError(self.path, off, reason)
        self.torn = last >= off
        if self.torn:
            log.warning("%s: torn tail at offset %d (%s): the log ends there", self.path, off, reason)

    def _last_nonzero_byte(self, mm, size: int) -> int:
        """Offset of the last non-zero byte of the file (-1 if all zeros); cached."""
        if self._last_nonzero == -2:
            found = -1
            # the holes of a preallocated (sparse) file read as zeros: only its data is looked at
            for region_start, region_end in reversed(_data_regions(self._fd, size)):
                pos = region_end
                while pos > region_start:
                    start = max(region_start, pos - len(_ZEROS))
                    chunk = mm[start:pos]
                    if chunk != _ZEROS[: pos - start]:
                        found = start + len(chunk.rstrip(b"\0")) - 1
                        break
                    pos = start
                if found >= 0:
                    break
            self._last_nonzero = found
        return self._last_nonzero


def _data_regions(fd: int, size: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` extents of ``fd`` that hold data (SEEK_DATA / SEEK_HOLE); the
    whole file where the file system cannot tell."""
    seek_data, seek_hole = getattr(os, "SEEK_DATA", None), getattr(os, "SEEK_HOLE", None)
    if seek_data is None or seek_hole is None:
        return [(0, size)]
    regions = []
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, seek_data)
            except OSError as e:
                if e.errno == errno.ENXIO:  # no data after pos
                    break
                raise
            end = min(os.lseek(fd, start, seek_hole), size)
            if end <= start:
                break
            regions.append((start, end))
            pos = end
    except OSError:
        return [(0, size)]
    return regions


def truncate_torn_tail(reader: LogFileReader, io: DiskIO = OS_DISK) -> None:
    """Cut a torn tail off (or drop a file whose header never made it), durably.

    Safe because nothing after the last good entry was ever acknowledged: a txn is
    answered only after the fsync that covers it and every entry before it.
    """
    path = reader.path
    if reader.header is None:
        log.warning("Removing %s: its header was never completely written", path)
        io.unlink(path)
    else:
        log.warning("Truncating %s to %d bytes (torn tail)", path, reader.end)
        fd = io.open_write(path)
        try:
            io.truncate(fd, reader.end)
            io.fsync(fd)
        finally:
            io.close(fd)
    io.fsync_dir(path.parent)


def log_readers(
    log_dir: Path, from_zxid: int, max_entry: int = 2 * 0xFFFFF, *, skip: bool = False, decode: bool = True
) -> list[LogFileReader]:
    """The files FileTxnIterator(logDir, zxid) reads: the last log that starts before
    ``from_zxid`` and every later one, oldest first (entries below ``from_zxid`` are the
    caller's to skip, or with ``skip`` the readers' own, undecoded)."""
    files = sorted_files(log_dir, LOG_PREFIX)
    chosen = [f for f in files if zxid_from_name(f.name, LOG_PREFIX) >= from_zxid]
    older = [f for f in files if zxid_from_name(f.name, LOG_PREFIX) < from_zxid]
    if older:
        chosen.insert(0, older[-1])
    skip_below = from_zxid if skip else None
    return [LogFileReader(path, max_entry, decode, skip_below) for path in chosen]


def last_logged_zxid(log_dir: Path) -> int:
    """FileTxnLog.getLastLoggedZxid: the zxid of the last entry of the newest log, -1 if none."""
    files = log_files_for(log_dir, 0)
    if not files:
        return -1
    zxid = zxid_from_name(files[-1].name, LOG_PREFIX)
    for entry in LogFileReader(files[-1]):
        zxid = entry.hdr.zxid
    return zxid
