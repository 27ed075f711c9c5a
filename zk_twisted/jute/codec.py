"""Jute binary codec: records declared once, encoders/decoders compiled from the declaration.

ZooKeeper's wire and disk formats are jute records (zookeeper.jute): big-endian ints and
longs, one-byte booleans, length-prefixed UTF-8 strings and byte buffers (-1 = null),
length-prefixed vectors.  Each record class gets a generated ``_write(parts)`` and
``_read(buf, off)``; adjacent fixed-width fields (nested all-fixed records such as Stat
included) are packed with one precompiled ``struct.Struct`` because per-field calls
dominate the cost of small replies.  Decoding is strict: a field that runs past the end of
the buffer, or a negative length other than -1, raises :class:`JuteError` naming the field.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

__all__ = [
    "BOOL",
    "BUFFER",
    "INT",
    "LONG",
    "USTRING",
    "JuteError",
    "Vector",
    "record",
]


class JuteError(ValueError):
    """A jute decode failed: truncated input or an impossible length."""


class _Prim:
    __slots__ = ("name", "fmt", "default")

    def __init__(self, name: str, fmt: str | None, default: Any) -> None:
        self.name, self.fmt, self.default = name, fmt, default

    def __repr__(self) -> str:
        return self.name


INT = _Prim("int", "i", 0)
LONG = _Prim("long", "q", 0)
BOOL = _Prim("boolean", "?", False)
USTRING = _Prim("ustring", None, "")
BUFFER = _Prim("buffer", None, b"")


class Vector:
    """``vector<T>``: an int count (-1 = null) followed by the elements.

    ``interned=True`` is for the few distinct values a server sees over and over (ACL
    lists): decoding returns a shared *tuple* (found by comparing the input with recently
    seen encodings: jute is self-delimiting, so equal bytes decode equally), and a tuple
    being encoded again reuses its bytes.  Both caches are small and bounded.
    """

    __slots__ = ("elem", "interned", "codec")

    def __init__(self, elem: Any, interned: bool = False) -> None:
        self.elem = elem
        self.interned = interned
        self.codec = None  # (write, read), shared by every record using this vector type

    def __repr__(self) -> str:
        return f"vector<{self.elem!r}>"


_I32 = struct.Struct(">i")
_i32_pack = _I32.pack
_i32_unpack = _I32.unpack_from
_NULL = _i32_pack(-1)


def _short(what: str, need: int, off: int, size: int) -> JuteError:
    return JuteError(f"{what}: truncated (needs {need} bytes at offset {off}, {size - off} left)")


def _bad_len(what: str, n: int, at: int, left: int) -> JuteError:
    """A length prefix at ``at`` that is below -1 or longer than the ``left`` bytes after it."""
    if n < -1:
        return JuteError(f"{what}: negative length {n} at offset {at}")
    return JuteError(f"{what}: length {n} at offset {at} exceeds the {left} bytes left")


def _get_len(buf: bytes, off: int, what: str) -> tuple[int, int]:
    if off + 4 > len(buf):
        raise _short(what, 4, off, len(buf))
    n = _i32_unpack(buf, off)[0]
    off += 4
    if n < -1 or n > len(buf) - off:
        raise _bad_len(what, n, off - 4, len(buf) - off)
    return n, off


def get_ustring(buf: bytes, off: int, what: str = "ustring") -> tuple[str | None, int]:
    n, off = _get_len(buf, off, what)
    if n < 0:
        return None, off
    end = off + n
    # Java decodes with replacement of malformed sequences; so do we.
    return buf[off:end].decode("utf-8", "replace"), end


def get_buffer(buf: bytes, off: int, what: str = "buffer") -> tuple[bytes | None, int]:
    n, off = _get_len(buf, off, what)
    if n < 0:
        return None, off
    end = off + n
    return bytes(buf[off:end]), end


def put_ustring(parts: list, s: str | None) -> None:
    if s is None:
        parts.append(_NULL)
    else:
        b = s.encode("utf-8")
        parts.append(_i32_pack(len(b)))
        parts.append(b)


def put_buffer(parts: list, b: bytes | None) -> None:
    if b is None:
        parts.append(_NULL)
    else:
        parts.append(_i32_pack(len(b)))
        parts.append(b)


def _fixed_fmt(t: Any) -> str | None:
    """The struct format of a fixed-width type (primitive or all-fixed record), else None."""
    if isinstance(t, _Prim):
        return t.fmt
    if isinstance(t, type) and hasattr(t, "_jute_fixed"):
        return t._jute_fixed
    return None


def _min_size(t: Any) -> int:
    """Smallest encoding of one element: bounds vector counts before looping."""
    fmt = _fixed_fmt(t)
    if fmt is not None:
        return struct.calcsize(">" + fmt)
    if isinstance(t, _Prim) or isinstance(t, Vector):
        return 4
    return max(1, sum(_min_size(ft) for _, ft in t._jute_fields))


_INTERN_RECENT = 16
_INTERN_ENCODED = 1024


def _vector_codec(elem: Any, what: str, interned: bool = False):
    """Return (write, read) functions for a vector of ``elem``."""
    fmt = _fixed_fmt(elem)
    if elem is USTRING:
        w1 = put_ustring

        def r1(buf, off, what=what):
            return get_ustring(buf, off, what)
    elif elem is BUFFER:
        w1 = put_buffer

        def r1(buf, off, what=what):
            return get_buffer(buf, off, what)
    elif isinstance(elem, Vector):
        w1, r1 = _vector_codec(elem.elem, what)
    elif isinstance(elem, _Prim):
        st = struct.Struct(">" + fmt)

        def w1(parts, v, _p=st.pack):
            parts.append(_p(v))

        def r1(buf, off, what=what, _u=st.unpack_from, _n=st.size):
            if off + _n > len(buf):
                raise _short(what, _n, off, len(buf))
            return _u(buf, off)[0], off + _n
    else:

        def w1(parts, v):
            v._write(parts)

        r1 = elem._read
    least = _min_size(elem)

    def write(parts, vec):
        if vec is None:
            parts.append(_NULL)
            return
        parts.append(_i32_pack(len(vec)))
        for v in vec:
            w1(parts, v)

    def read(buf, off, what=what):
        if off + 4 > len(buf):
            raise _short(what, 4, off, len(buf))
        n = _i32_unpack(buf, off)[0]
        off += 4
        if n == -1:
            return None, off
        if n < 0 or n * least > len(buf) - off:
            raise JuteError(f"{what}: vector count {n} at offset {off - 4} impossible with {len(buf) - off} bytes left")
        out = []
        append = out.append
        for _ in range(n):
            v, off = r1(buf, off)
            append(v)
        return out, off

    if not interned:
        return write, read

    recent: list[tuple[bytes, tuple]] = []  # most recent first
    encoded: dict[int, tuple[tuple, bytes]] = {}  # id(tuple) -> (tuple, its bytes)

    def write_interned(parts, vec):
        if type(vec) is tuple:
            hit = encoded.get(id(vec))
            if hit is not None and hit[0] is vec:
                parts.append(hit[1])
                return
            mine: list[bytes] = []
            write(mine, vec)
            data = b"".join(mine)
            if len(encoded) >= _INTERN_ENCODED:
                encoded.clear()
            encoded[id(vec)] = (vec, data)
            parts.append(data)
            return
        write(parts, vec)

    def read_interned(buf, off, what=what):
        for data, value in recent:
            if buf.startswith(data, off):
                return value, off + len(data)
        out, end = read(buf, off, what)
        if out is None:
            return None, end
        value = tuple(out)
        data = bytes(buf[off:end])
        recent.insert(0, (data, value))
        del recent[_INTERN_RECENT:]
        if len(encoded) >= _INTERN_ENCODED:
            encoded.clear()
        encoded[id(value)] = (value, data)
        return value, end

    return write_interned, read_interned


def _compile(cls: type, fields: list[tuple[str, Any]]) -> None:
    """Generate ``_write`` and ``_read`` for ``cls`` from its field list."""
    name = cls.__name__
    env: dict[str, Any] = {
        "put_ustring": put_ustring,
        "put_buffer": put_buffer,
        "get_ustring": get_ustring,
        "get_buffer": get_buffer,
        "_short": _short,
        "_bad_len": _bad_len,
        "_i32_pack": _i32_pack,
        "_i32_unpack": _i32_unpack,
        "_NULL": _NULL,
        "cls": cls,
    }
    wlines = ["def _write(self, parts):", "    append = parts.append"]
    rlines = ["def _read(buf, off=0):", "    size = len(buf)"]
    run_fmt: list[str] = []
    run_exprs: list[str] = []  # encoder expressions
    run_targets: list[tuple[str, Any]] = []  # decoder: (field name, type)
    counter = [0]

    def flush() -> None:
        if not run_fmt:
            return
        k = counter[0]
        counter[0] += 1
        st = struct.Struct(">" + "".join(run_fmt))
        env[f"_S{k}"] = st
        wlines.append(f"    append(_S{k}.pack({', '.join(run_exprs)}))")
        tmp = []
        vals = []
        for fname, ftype in run_targets:
            if isinstance(ftype, _Prim):
                tmp.append(f"v_{fname}")
                vals.append((fname, f"v_{fname}"))
            else:  # nested all-fixed record
                names = [f"v_{fname}_{i}" for i in range(len(ftype._jute_fields))]
                tmp.extend(names)
                env[f"_T_{fname}"] = ftype
                vals.append((fname, f"_T_{fname}({', '.join(names)})"))
        rlines.append(f"    if off + {st.size} > size: raise _short({name + '.' + run_targets[0][0]!r}, {st.size}, off, size)")
        rlines.append(f"    {', '.join(tmp)}{',' if len(tmp) == 1 else ''} = _S{k}.unpack_from(buf, off)")
        rlines.append(f"    off += {st.size}")
        for fname, expr in vals:
            if expr != f"v_{fname}":
                rlines.append(f"    v_{fname} = {expr}")
        run_fmt.clear()
        run_exprs.clear()
        run_targets.clear()

    def fixed_exprs(base: str, t: Any) -> list[str]:
        if isinstance(t, _Prim):
            return [base]
        out: list[str] = []
        for fn, ft in t._jute_fields:
            out.extend(fixed_exprs(f"{base}.{fn}", ft))
        return out

    for fname, ftype in fields:
        what = f"{name}.{fname}"
        fmt = _fixed_fmt(ftype)
        if fmt is not None:
            run_fmt.append(fmt)
            run_exprs.extend(fixed_exprs(f"self.{fname}", ftype))
            run_targets.append((fname, ftype))
            continue
        flush()
        if ftype is USTRING or ftype is BUFFER:
            # put_ustring / put_buffer and get_ustring / get_buffer, inline: no calls per field
            wlines += [
                f"    v = self.{fname}",
                "    if v is None:",
                "        append(_NULL)",
                "    else:",
                "        v = v.encode('utf-8')" if ftype is USTRING else "        pass",
                "        append(_i32_pack(len(v)))",
                "        append(v)",
            ]
            value = "buf[off:end].decode('utf-8', 'replace')" if ftype is USTRING else "bytes(buf[off:end])"
            rlines += [
                f"    if off + 4 > size: raise _short({what!r}, 4, off, size)",
                "    n = _i32_unpack(buf, off)[0]",
                "    off += 4",
                "    if n < 0:",
                f"        if n < -1: raise _bad_len({what!r}, n, off - 4, size - off)",
                f"        v_{fname} = None",
                "    else:",
                "        end = off + n",
                f"        if end > size: raise _bad_len({what!r}, n, off - 4, size - off)",
                f"        v_{fname} = {value}",
                "        off = end",
            ]
        elif isinstance(ftype, Vector):
            if ftype.codec is None:
                ftype.codec = _vector_codec(ftype.elem, what, ftype.interned)
            w, r = ftype.codec
            env[f"_VW_{fname}"], env[f"_VR_{fname}"] = w, r
            wlines.append(f"    _VW_{fname}(parts, self.{fname})")
            rlines.append(f"    v_{fname}, off = _VR_{fname}(buf, off)")
        elif isinstance(ftype, type) and hasattr(ftype, "_jute_fields"):
            env[f"_R_{fname}"] = ftype._read
            wlines.append(f"    self.{fname}._write(parts)")
            rlines.append(f"    v_{fname}, off = _R_{fname}(buf, off)")
        else:
            raise TypeError(f"{what}: unsupported jute type {ftype!r}")
    flush()
    args = ", ".join(f"v_{fname}" for fname, _ in fields)
    rlines.append(f"    return cls({args}), off")
    if len(wlines) == 2:
        wlines.append("    pass")
    src = "\n".join(wlines) + "\n\n" + "\n".join(rlines) + "\n"
    exec(compile(src, f"<jute {name}>", "exec"), env)
    cls._write = env["_write"]
    cls._read = staticmethod(env["_read"])


def _to_bytes(self) -> bytes:
    parts: list[bytes] = []
    self._write(parts)
    return b"".join(parts)


@classmethod
def _from_bytes(cls, buf: bytes, off: int = 0, *, exact: bool = False):
    """Decode one record from ``buf[off:]``; with ``exact`` trailing bytes are an error."""
    rec, end = cls._read(buf, off)
    if exact and end != len(buf):
        raise JuteError(f"{cls.__name__}: {len(buf) - end} trailing bytes after offset {end}")
    return rec


def record(name: str, **fields: Any) -> type:
    """Declare a jute record: ``Stat = record("Stat", czxid=LONG, ...)`` (fields in wire order).

    The class is a slotted dataclass with ``to_bytes()``, ``from_bytes(buf, off)``,
    ``_write(parts)`` and ``_read(buf, off) -> (record, next_off)``.
    """
    dfields = []
    for fname, ftype in fields.items():
        if isinstance(ftype, _Prim):
            dfields.append((fname, Any, dataclasses.field(default=ftype.default)))
        elif isinstance(ftype, Vector):
            dfields.append((fname, Any, dataclasses.field(default_factory=list)))
        else:
            dfields.append((fname, Any, dataclasses.field(default=None)))
    cls = dataclasses.make_dataclass(name, dfields, slots=True)
    cls._jute_fields = tuple(fields.items())
    fmts = [_fixed_fmt(t) for t in fields.values()]
    if fields and all(f is not None for f in fmts):
        cls._jute_fixed = "".join(fmts)  # type: ignore[arg-type]
    cls.to_bytes = _to_bytes
    cls.from_bytes = _from_bytes
    _compile(cls, list(fields.items()))
    return cls
