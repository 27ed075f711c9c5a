"""File naming and ordering in a version-2 directory (persistence.Util), plus checksum helpers.

``log.<hex zxid>`` starts with the txn of that zxid; ``snapshot.<hex zxid>`` holds the
tree as of (at least) that zxid.  Files are ordered by the zxid in their name, never by
the name's text, exactly as Util.sortDataDir does.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

LOG_PREFIX = "log"
SNAPSHOT_PREFIX = "snapshot"
VERSION_DIR = "version-2"
#: our temporary files: a prefix neither 3.8 nor we take for a log or a snapshot
TMP_PREFIX = "tmp."
_HEX = re.compile(r"[0-9a-fA-F]+")


def make_log_name(zxid: int) -> str:
    return f"{LOG_PREFIX}.{zxid:x}"


def make_snapshot_name(zxid: int) -> str:
    return f"{SNAPSHOT_PREFIX}.{zxid:x}"


def zxid_from_name(name: str, prefix: str) -> int:
    """Util.getZxidFromName: the hex zxid after ``prefix.``, or -1 when the name is not one."""
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == prefix and _HEX.fullmatch(parts[1]):
        zxid = int(parts[1], 16)
        if zxid < 1 << 63:
            return zxid
    return -1


def sorted_files(directory: Path, prefix: str, ascending: bool = True) -> list[Path]:
    """The files of ``directory`` named ``prefix.<hex>``, ordered by that zxid."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [(zxid_from_name(n, prefix), n) for n in names if n.startswith(prefix + ".")]
    found = [(z, n) for z, n in found if z >= 0]
    found.sort(reverse=not ascending)
    return [directory / n for _, n in found]


def log_files_for(log_dir: Path, snapshot_zxid: int) -> list[Path]:
    """FileTxnLog.getLogFiles: the log that starts at or before ``snapshot_zxid``, and all later ones."""
    files = sorted_files(log_dir, LOG_PREFIX)
    start = 0
    for f in files:
        z = zxid_from_name(f.name, LOG_PREFIX)
        if z > snapshot_zxid:
            break
        start = max(start, z)
    return [f for f in files if zxid_from_name(f.name, LOG_PREFIX) >= start]


_ADLER_BASE = 65521


def adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """zlib's adler32_combine: the Adler-32 of A + B from those of A and B and B's length.

    Lets a snapshot's node section be checksummed while it streams to disk, before the
    sections that precede it in the file are known.
    """
    rem = len2 % _ADLER_BASE
    sum1 = adler1 & 0xFFFF
    sum2 = (rem * sum1) % _ADLER_BASE
    sum1 += (adler2 & 0xFFFF) + _ADLER_BASE - 1
    sum2 += ((adler1 >> 16) & 0xFFFF) + ((adler2 >> 16) & 0xFFFF) + _ADLER_BASE - rem
    if sum1 >= _ADLER_BASE:
        sum1 -= _ADLER_BASE
    if sum1 >= _ADLER_BASE:
        sum1 -= _ADLER_BASE
    if sum2 >= _ADLER_BASE << 1:
        sum2 -= _ADLER_BASE << 1
    if sum2 >= _ADLER_BASE:
        sum2 -= _ADLER_BASE
    return sum1 | (sum2 << 16)
