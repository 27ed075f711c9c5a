"""TLC values -> plain, JSON-friendly Python values.

The mapping (one rule per TLA+ value, whatever TLC class holds it):

=====================================  ==========================================
TLA+ value                             Python
=====================================  ==========================================
integer                                ``int``
boolean                                ``bool``
string, model value                    ``str`` (``"s1"``; the two are not told apart)
record ``[a |-> 1]``                   ``dict`` ``{"a": 1}``
tuple / sequence ``<<x, y>>``          ``list`` ``[x, y]``
function with domain ``1..n``          ``list`` (it *is* a sequence in TLA+)
function over strings / model values   ``dict`` keyed by those names
function over other integers           ``dict`` keyed by ``str(int)``
function over any other domain         ``{"__fcn__": [[key, value], ...]}``
set (of any kind: enumerated,          sorted ``list`` (booleans, ints by value,
interval, SUBSET, [S -> T], ...)        strings, then lists, then dicts)
=====================================  ==========================================

So a converted state survives ``json.loads(json.dumps(...))`` unchanged and
two equal TLA+ values convert to equal Python values (records and functions
over names are equal in TLA+ too, and so are sequences and functions over
``1..n``).  Sets and sequences both become lists: the spec says which one a
variable holds.

Converted values are shared between calls (they are cached): do not mutate
them.  The cache is keyed by TLC's own 64-bit fingerprint of a value, as
TLC_NOTES advises; unchanged variables are the same Java objects in a state
and its successors, so converting a walk costs little beyond what changed.
"""

from __future__ import annotations

import json
from typing import Any

import jpype

from .jvm import start_jvm

__all__ = ["ValueConverter", "sort_key", "canonical"]


def sort_key(x: Any):
    """The order in which set elements are listed."""
    if isinstance(x, bool):
        return (0, int(x), "")
    if isinstance(x, int):
        return (1, x, "")
    if isinstance(x, str):
        return (2, 0, x)
    if isinstance(x, list):
        return (3, tuple(sort_key(e) for e in x))
    if isinstance(x, dict):
        return (4, tuple(sorted((str(k), sort_key(v)) for k, v in x.items())))
    return (5, json.dumps(x, sort_keys=True, default=str))


def canonical(x: Any) -> Any:
    """``x`` as it reads back from JSON (tuples -> lists, int keys -> str keys)."""
    if isinstance(x, dict):
        return {str(k): canonical(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [canonical(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted((canonical(v) for v in x), key=sort_key)
    return x


class ValueConverter:
    """Converts TLC ``Value`` objects; one per loaded spec (caches by fingerprint).

    ``cache_depth`` bounds how deep inside a variable's value compound
    sub-values are cached (each level costs one more fingerprint walk over the
    sub-value, and pays when only part of a big function changed).
    """

    def __init__(self, cache_depth: int = 2, cache_limit: int = 400_000):
        start_jvm()
        self.cache_depth = cache_depth
        self.cache_limit = cache_limit
        self._cache: dict[int, Any] = {}
        self.hits = 0
        self.misses = 0
        fp64 = jpype.JClass("tlc2.util.FP64")
        self._fp0 = int(fp64.New())
        pkg = "tlc2.value.impl."

        def cls(name):
            return jpype.JClass(pkg + name)

        self._handlers = {
            cls("IntValue"): self._int,
            cls("BoolValue"): self._bool,
            cls("StringValue"): self._str,
            cls("ModelValue"): self._str,
            cls("RecordValue"): self._record,
            cls("TupleValue"): self._tuple,
            cls("FcnRcdValue"): self._fcn,
            cls("FcnLambdaValue"): self._lambda,
            cls("SetEnumValue"): self._setenum,
            cls("IntervalValue"): self._interval,
            cls("LazyValue"): self._lazy,
        }
        self._enumerable_cls = cls("EnumerableValue")
        # Atoms convert faster than they fingerprint: never cache them.
        self._atoms = {cls("IntValue"), cls("BoolValue"), cls("StringValue"), cls("ModelValue")}

    # -- public -------------------------------------------------------------
    def convert(self, v, depth: int = 0) -> Any:
        """Convert one TLC value (``None`` converts to ``None``)."""
        if v is None:
            return None
        t = type(v)
        if depth <= self.cache_depth and t not in self._atoms:
            try:
                fp = int(v.fingerPrint(self._fp0))
            except jpype.JException:  # e.g. a set TLC cannot normalize ({1, "a"})
                return self._convert(v, t, depth)
            hit = self._cache.get(fp, _MISSING)
            if hit is not _MISSING:
                self.hits += 1
                return hit
            self.misses += 1
            out = self._convert(v, t, depth)
            if len(self._cache) >= self.cache_limit:
                self._cache.clear()
            self._cache[fp] = out
            return out
        return self._convert(v, t, depth)

    def clear(self) -> None:
        self._cache.clear()

    # -- handlers -----------------------------------------------------------
    def _convert(self, v, t, depth):
        h = self._handlers.get(t)
        if h is None:
            # Any other set (SUBSET, [S -> T], S \cup T, {x \in S : P}, ...) is
            # an EnumerableValue; anything else (operators, user values) is shown
            # as TLC prints it.
            h = self._set if isinstance(v, self._enumerable_cls) else self._other
            self._handlers[t] = h
        return h(v, depth)

    @staticmethod
    def _int(v, depth):
        return int(v.val)

    @staticmethod
    def _bool(v, depth):
        return bool(v.val)

    @staticmethod
    def _str(v, depth):
        return str(v.val)

    def _record(self, v, depth):
        d = depth + 1
        return {str(n): self.convert(x, d) for n, x in zip(v.names, v.values, strict=True)}

    def _tuple(self, v, depth):
        d = depth + 1
        return [self.convert(x, d) for x in v.elems]

    def _fcn(self, v, depth):
        d = depth + 1
        values = [self.convert(x, d) for x in v.values]
        intv = v.intv
        if intv is not None:
            low = int(intv.low)
            if low == 1 or not values:
                return values
            return {str(low + k): x for k, x in enumerate(values)}
        keys = [self.convert(x, d) for x in v.domain]
        return _fcn_from_pairs(keys, values)

    def _lambda(self, v, depth):
        return self._convert_plain(v.toFcnRcd(), depth)

    def _setenum(self, v, depth):
        try:
            v = v.normalize()
        except jpype.JException:  # elements TLC cannot compare: dedupe here
            pass
        elems = v.elems
        d = depth + 1
        out = sorted((self.convert(elems.elementAt(k), d) for k in range(elems.size())), key=sort_key)
        return [x for k, x in enumerate(out) if k == 0 or x != out[k - 1]]

    @staticmethod
    def _interval(v, depth):
        return list(range(int(v.low), int(v.high) + 1))

    def _set(self, v, depth):
        return self._setenum(v.toSetEnum(), depth)

    def _lazy(self, v, depth):
        inner = v.getValue()
        if inner is None:
            raise ValueError(f"unevaluated lazy value: {v}")
        return self._convert_plain(inner, depth)

    def _convert_plain(self, v, depth):
        return self._convert(v, type(v), depth)

    @staticmethod
    def _other(v, depth):
        return str(v.toString())


_MISSING = object()


def _fcn_from_pairs(keys: list, values: list):
    if not keys:
        return []
    if all(isinstance(k, str) for k in keys):
        return dict(zip(keys, values, strict=True))
    if all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
        pairs = sorted(zip(keys, values, strict=True), key=lambda kv: kv[0])
        if [k for k, _ in pairs] == list(range(1, len(pairs) + 1)):
            return [x for _, x in pairs]
        return {str(k): x for k, x in pairs}
    pairs = sorted(zip(keys, values, strict=True), key=lambda kv: sort_key(kv[0]))
    return {"__fcn__": [[k, x] for k, x in pairs]}
