"""How Java prints things, for output identical to ZooKeeper's own tools.

* HashMap / HashSet iteration order (SnapshotFormatter walks children sets and the session
  map in that order): bucket by the spread hash, then insertion order within a bucket.
  Buckets that Java turns into trees (9+ colliding keys in a table of 64+) are not
  modelled; their order may differ.
* ``Date.toString()`` and ``DateFormat.getDateTimeInstance(SHORT, LONG)`` (en-US, the
  JVM's default locale under C / C.UTF-8), in the local time zone as the JVM would use.
* ``Double.toString`` and ``InetSocketAddress.toString`` (the four-letter words, the AdminServer).
* Jute's ``toString()`` (ToStringOutputArchive): ``s{...}`` records, ``v{...}`` vectors,
  ``'``-prefixed escaped strings, ``#``-prefixed buffers, a newline after a top-level record.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from ..jute.codec import BOOL, BUFFER, INT, LONG, USTRING, Vector

_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1


def _signed32(v: int) -> int:
    v &= _M32
    return v - (1 << 32) if v >> 31 else v


def string_hash(s: str) -> int:
    """String.hashCode (over UTF-16 code units)."""
    raw = s.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(raw), 2):
        h = (31 * h + (raw[i] << 8 | raw[i + 1])) & _M32
    return _signed32(h)


def long_hash(v: int) -> int:
    """Long.hashCode."""
    v &= _M64
    return _signed32(v ^ (v >> 32))


def hashmap_order(keys: Sequence, hash_of: Callable[[object], int], initial_capacity: int = 16) -> list:
    """The order a java.util.HashMap (or HashSet) built by inserting ``keys`` iterates in."""
    cap = 1
    while cap < initial_capacity:
        cap <<= 1
    while len(keys) > int(cap * 0.75):
        cap <<= 1
    mask = cap - 1

    def bucket(i: int) -> tuple[int, int]:
        h = hash_of(keys[i]) & _M32
        return ((h ^ (h >> 16)) & mask, i)

    return [keys[i] for i in sorted(range(len(keys)), key=bucket)]


def date_to_string(ms: int) -> str:
    """java.util.Date.toString: ``EEE MMM dd HH:mm:ss zzz yyyy``."""
    t = time.localtime(ms // 1000)
    return time.strftime("%a %b %d %H:%M:%S %Z %Y", t)


def short_long_datetime(ms: int) -> str:
    """DateFormat.getDateTimeInstance(SHORT, LONG) in en-US: ``M/d/yy, h:mm:ss a z``."""
    t = time.localtime(ms // 1000)
    hour = t.tm_hour % 12 or 12
    ampm = "AM" if t.tm_hour < 12 else "PM"
    zone = time.strftime("%Z", t)
    return f"{t.tm_mon}/{t.tm_mday}/{t.tm_year % 100:02d}, {hour}:{t.tm_min:02d}:{t.tm_sec:02d} {ampm} {zone}"


def medium_datetime(ms: int) -> str:
    """DateFormat.getDateTimeInstance() in en-US: ``MMM d, y, h:mm:ss a``."""
    t = time.localtime(ms // 1000)
    hour = t.tm_hour % 12 or 12
    ampm = "AM" if t.tm_hour < 12 else "PM"
    month = time.strftime("%b", t)
    return f"{month} {t.tm_mday}, {t.tm_year}, {hour}:{t.tm_min:02d}:{t.tm_sec:02d} {ampm}"


def hex_long(v: int) -> str:
    """Long.toHexString (an int argument is sign-extended first, as Java widens it)."""
    return f"{v & _M64:x}"


def java_utf8(data: bytes | None) -> str:
    """``new String(bytes, UTF_8)``: malformed input becomes U+FFFD."""
    return data.decode("utf-8", "replace") if data else ""


# ---------------------------------------------------------------------------- jute toString
_ESCAPES = {"\0": "%00", "\n": "%0A", "\r": "%0D", ",": "%2C", "}": "%7D", "%": "%25"}


def _escape_string(s: str | None) -> str:
    if s is None:
        return ""
    return "'" + "".join(_ESCAPES.get(c, c) for c in s)


def _escape_buffer(b: bytes | None) -> str:
    if not b:
        return ""
    # Integer.toHexString of a (signed) byte: no padding, negatives as 32-bit
    return "#" + "".join(f"{x:x}" if x < 0x80 else f"{x | 0xFFFFFF00:x}" for x in b)


class _ToStringArchive:
    """ToStringOutputArchive, driven by a record's jute field declarations."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.first = True

    def _comma(self) -> None:
        if not self.first:
            self.out.append(",")
        self.first = False

    def value(self, t, v) -> None:
        if t is INT or t is LONG:
            self._comma()
            self.out.append(str(v))
        elif t is BOOL:
            self._comma()
            self.out.append("T" if v else "F")
        elif t is USTRING:
            self._comma()
            self.out.append(_escape_string(v))
        elif t is BUFFER:
            self._comma()
            self.out.append(_escape_buffer(v))
        elif isinstance(t, Vector):
            self._comma()
            self.out.append("v{")
            self.first = True
            for e in v or ():
                self.value(t.elem, e)
            self.out.append("}")
            self.first = False
        elif v is not None:
            self.record(v, "e")

    def record(self, rec, tag: str) -> None:
        if tag:
            self._comma()
            self.out.append("s{")
            self.first = True
        for name, t in type(rec)._jute_fields:
            self.value(t, getattr(rec, name))
        if tag:
            self.out.append("}")
            self.first = False
        else:
            self.out.append("\n")
            self.first = True


def jute_to_string(rec) -> str:
    """``rec.toString()`` of the Java class jute generates for the same record."""
    a = _ToStringArchive()
    a.record(rec, "")
    return "".join(a.out)


def list_to_string(items: Iterable | None, item_to_string: Callable[[object], str]) -> str:
    """``ArrayList.toString()``; ``null`` for a null list."""
    if items is None:
        return "null"
    return "[" + ", ".join(item_to_string(i) for i in items) + "]"


def java_double(x: float) -> str:
    """Double.toString: plain between 1e-3 and 1e7, else d.dddE[-]n."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        text = repr(float(x))
        if "e" not in text:
            return text if "." in text else text + ".0"
    sign, digits, exp = Decimal(repr(float(x))).normalize().as_tuple()
    ds = "".join(map(str, digits))
    e10 = len(ds) + int(exp) - 1
    mantissa = ds[0] + "." + (ds[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{e10}"


def java_address(ip: str, port: int) -> str:
    """InetSocketAddress.toString of a connected socket: ``/1.2.3.4:5`` or ``/[0:0:...:1]:5``."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return f"{ip}/<unresolved>:{port}"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return f"/{addr}:{port}"
    groups = ":".join(format(int(g, 16), "x") for g in addr.exploded.split(":"))
    return f"/[{groups}]:{port}"
