"""The jute codec: every record round-trips; truncated or impossible input is refused clearly."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zk_twisted.jute import JuteError
from zk_twisted.jute import records as R
from zk_twisted.jute.codec import BOOL, BUFFER, INT, LONG, USTRING, Vector
from zk_twisted.jute.multi import (
    decode_multi_request,
    decode_multi_response,
    encode_multi_request,
    encode_multi_response,
)

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def strategy_for(t):
    if t is INT:
        return INT32
    if t is LONG:
        return INT64
    if t is BOOL:
        return st.booleans()
    if t is USTRING:
        return st.one_of(st.none(), TEXT)
    if t is BUFFER:
        return st.one_of(st.none(), st.binary(max_size=64))
    if isinstance(t, Vector):
        return st.one_of(st.none(), st.lists(strategy_for(t.elem), max_size=4))
    return record_strategy(t)


def plain(v):
    """Interned vectors decode as shared tuples; compare them as the lists they were."""
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if hasattr(v, "_jute_fields"):
        return (type(v).__name__, [plain(getattr(v, f)) for f, _ in v._jute_fields])
    return v


def record_strategy(cls):
    return st.builds(cls, *[strategy_for(ft) for _, ft in cls._jute_fields])


@pytest.mark.parametrize("name", sorted(R.ALL_RECORDS))
def test_every_record_round_trips(name):
    cls = R.ALL_RECORDS[name]

    @settings(max_examples=40, deadline=None)
    @given(record_strategy(cls))
    def check(rec):
        data = rec.to_bytes()
        back, end = cls._read(data, 0)
        assert end == len(data)
        assert plain(back) == plain(rec)
        assert back.to_bytes() == data
        # every proper prefix is refused, never half-decoded silently
        for cut in {0, len(data) // 2, len(data) - 1} - {len(data)}:
            if cut < len(data):
                with pytest.raises(JuteError):
                    cls._read(data[:cut], 0)

    check()


def test_known_bytes_match_java():
    # ReplyHeader(xid=1, zxid=2, err=-101) and a Stat, laid out as BinaryOutputArchive writes them
    assert R.ReplyHeader(1, 2, -101).to_bytes() == struct.pack(">iqi", 1, 2, -101)
    assert R.Id("world", "anyone").to_bytes() == b"\x00\x00\x00\x05world\x00\x00\x00\x06anyone"
    assert R.GetDataResponse(None, R.Stat(*range(11))).to_bytes()[:4] == b"\xff\xff\xff\xff"
    assert R.MultiHeader(-1, True, -1).to_bytes() == b"\xff\xff\xff\xff\x01\xff\xff\xff\xff"


def test_errors_name_the_field():
    with pytest.raises(JuteError, match="CreateRequest.path"):
        R.CreateRequest.from_bytes(b"\x7f\xff\xff\xff")
    with pytest.raises(JuteError, match="negative length"):
        R.GetDataRequest.from_bytes(b"\xff\xff\xff\xfe")
    with pytest.raises(JuteError, match="vector count"):
        R.SetWatches.from_bytes(struct.pack(">qi", 0, 1_000_000))
    with pytest.raises(JuteError, match="trailing"):
        R.ErrorResponse.from_bytes(b"\x00\x00\x00\x00\x00", exact=True)


_WRITE_OPS = st.one_of(
    st.tuples(st.just(1), record_strategy(R.CreateRequest)),
    st.tuples(st.just(2), record_strategy(R.DeleteRequest)),
    st.tuples(st.just(5), record_strategy(R.SetDataRequest)),
    st.tuples(st.just(13), record_strategy(R.CheckVersionRequest)),
)
_READ_OPS = st.one_of(
    st.tuples(st.just(4), record_strategy(R.GetDataRequest)),
    st.tuples(st.just(8), record_strategy(R.GetChildrenRequest)),
)


@settings(max_examples=50, deadline=None)
@given(st.one_of(st.lists(_WRITE_OPS, max_size=5), st.lists(_READ_OPS, max_size=5)))
def test_multi_request_round_trip(ops):
    assert plain(decode_multi_request(encode_multi_request(ops))) == plain(ops)


@settings(max_examples=30, deadline=None)
@given(st.lists(_WRITE_OPS, min_size=1, max_size=3), st.lists(_READ_OPS, min_size=1, max_size=3), st.booleans())
def test_multi_request_mixing_reads_and_writes_is_refused(writes, reads, reads_first):
    """MultiOperationRecord.deserialize (3.8) refuses the mix before any op is processed."""
    ops = reads + writes if reads_first else writes + reads
    with pytest.raises(JuteError, match="Mixing different kind of ops"):
        decode_multi_request(encode_multi_request(ops))


def test_multi_response_round_trip():
    results = [
        (1, 0, R.CreateResponse("/a")),
        (2, 0, None),
        (5, 0, R.SetDataResponse(R.Stat(*range(11)))),
        (-1, -101, R.ErrorResponse(-101)),
    ]
    assert decode_multi_response(encode_multi_response(results)) == results


def test_interned_acl_vectors_are_shared_and_exact():
    acl = [R.ACL(31, R.Id("world", "anyone"))]
    a = R.CreateRequest.from_bytes(R.CreateRequest("/a", b"", acl, 0).to_bytes())
    b = R.CreateRequest.from_bytes(R.CreateRequest("/b", b"", acl, 0).to_bytes())
    assert a.acl is b.acl and a.acl == tuple(acl)
    other = R.CreateRequest.from_bytes(R.CreateRequest("/c", b"", [R.ACL(1, R.Id("world", "anyone"))], 0).to_bytes())
    assert other.acl[0].perms == 1  # a similar but different vector is not confused with it
    assert R.CreateTxn("/a", b"", a.acl, False, 1).to_bytes() == R.CreateTxn("/a", b"", acl, False, 1).to_bytes()
