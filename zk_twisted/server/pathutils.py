"""Znode path rules (PathUtils.validatePath in ZooKeeper 3.8)."""

from __future__ import annotations


class InvalidPath(ValueError):
    """A path ZooKeeper would refuse; the message matches PathUtils' wording."""


def _bad_char(c: str) -> bool:
    o = ord(c)
    # Java checks UTF-16 units: code points beyond the BMP arrive as surrogates (refused).
    return 0 < o <= 0x1F or 0x7F <= o <= 0x9F or 0xD800 <= o <= 0xF8FF or o >= 0xFFF0


def validate_path(path: str | None) -> None:
    if path is None:
        raise InvalidPath("Path cannot be null")
    n = len(path)
    if n == 0:
        raise InvalidPath("Path length must be > 0")
    if path[0] != "/":
        raise InvalidPath("Path must start with / character")
    if n == 1:
        return
    if path[-1] == "/":
        raise InvalidPath("Path must not end with / character")
    if path.isascii() and path.isprintable() and "//" not in path and "/." not in path:
        return  # the common case, decided without the per-character loop
    reason = None
    lastc = "/"
    for i in range(1, n):
        c = path[i]
        if c == "\0":
            reason = f"null character not allowed @{i}"
        elif c == "/" and lastc == "/":
            reason = f"empty node name specified @{i}"
        elif c == "." and lastc == ".":
            if path[i - 2] == "/" and (i + 1 == n or path[i + 1] == "/"):
                reason = f"relative paths not allowed @{i}"
        elif c == ".":
            if path[i - 1] == "/" and (i + 1 == n or path[i + 1] == "/"):
                reason = f"relative paths not allowed @{i}"
        elif _bad_char(c):
            reason = f"invalid character @{i}"
        if reason:
            raise InvalidPath(f'Invalid path string "{path}" caused by {reason}')
        lastc = c


def parent_of(path: str) -> str:
    """The parent as ZooKeeper computes it: everything before the last '/' ('' for children of root)."""
    return path[: path.rfind("/")]


def split_path(path: str) -> tuple[str, str]:
    i = path.rfind("/")
    return path[:i], path[i + 1 :]
