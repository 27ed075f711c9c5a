"""Election-port codec: the bytes 3.8 sends (QUORUM_NOTES.md sections 1, 2) and how 3.8 reads them."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zk_twisted.config import QuorumServer
from zk_twisted.election.messages import (
    OBSERVER_ID,
    PACKET_MAX_SIZE,
    PROTOCOL_VERSION_V1,
    PROTOCOL_VERSION_V2,
    FrameError,
    FrameReader,
    InitialMessageError,
    InitialMessageReader,
    NotificationError,
    ServerState,
    config_version_of,
    decode_notification,
    encode_initial_message,
    encode_notification,
    format_inet_addr,
    frame,
)
from zk_twisted.quorum.verifier import QuorumMaj

I64 = st.integers(-(1 << 63), (1 << 63) - 1)


# ------------------------------------------------------------------ initial message
def test_initial_message_is_the_captured_bytes():
    # cap (QUORUM_NOTES 1): ffffffffffff0000 0000000000000001 0000000f "127.0.0.1:25381"
    captured = bytes.fromhex("ffffffffffff0000" "0000000000000001" "0000000f") + b"127.0.0.1:25381"
    assert encode_initial_message(1, [("127.0.0.1", 25381)]) == captured
    msg, rest = InitialMessageReader().feed(captured)
    assert (msg.sid, msg.addresses, msg.protocol_version, rest) == (1, (("127.0.0.1", 25381),), PROTOCOL_VERSION_V1, b"")


def test_initial_message_v2_joins_addresses_and_v1_sends_the_first():
    addrs = [("127.0.0.1", 1), ("::1", 2)]
    v2 = encode_initial_message(5, addrs, PROTOCOL_VERSION_V2)
    assert v2[20:] == b"127.0.0.1:1|[0:0:0:0:0:0:0:1]:2"  # NetUtils.formatInetAddr: Java's long IPv6 form
    assert encode_initial_message(5, addrs)[20:] == b"127.0.0.1:1"
    msg, _ = InitialMessageReader().feed(v2)
    assert msg.addresses == (("127.0.0.1", 1), ("0:0:0:0:0:0:0:1", 2))


def test_format_inet_addr():
    assert format_inet_addr("10.0.0.1", 5) == "10.0.0.1:5"
    assert format_inet_addr("fe80::1", 7) == "[fe80:0:0:0:0:0:0:1]:7"


def test_initial_message_split_anywhere_is_waited_for():
    header = encode_initial_message(3, [("127.0.0.1", 3888)])
    data = header + frame(b"x" * 30)
    for cut in range(1, len(header)):
        r = InitialMessageReader()
        assert r.feed(data[:cut]) is None
        msg, rest = r.feed(data[cut:])
        assert msg.sid == 3 and msg.addresses == (("127.0.0.1", 3888),) and rest == data[len(header) :]


def test_legacy_header_is_a_bare_sid():
    msg, rest = InitialMessageReader().feed(struct.pack(">q", 7) + b"tail")
    assert (msg.sid, msg.addresses, msg.protocol_version, rest) == (7, (), None, b"tail")


def test_observer_id_parses():
    msg, _ = InitialMessageReader().feed(encode_initial_message(OBSERVER_ID, [("127.0.0.1", 1)]))
    assert msg.sid == OBSERVER_ID


@pytest.mark.parametrize(
    "data, what",
    [
        (struct.pack(">qqi", -65534, 1, 5) + b"a:1:1", "unrecognized protocol version -65534"),
        (struct.pack(">qqi", -1, 1, 5), "unrecognized protocol version -1"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 0), "Unreasonable buffer length: 0"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, -4), "Unreasonable buffer length: -4"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 2049), "Unreasonable buffer length: 2049"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 9) + b"127.0.0.1", "Badly formed address: 127.0.0.1"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 11) + b"127.0.0.1:x", "Bad port number: x"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 9) + b"a:1:2:3:4", "Badly formed address"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 3) + b"\xff:1", "not UTF-8"),
        (struct.pack(">qqi", PROTOCOL_VERSION_V1, 1, 9) + b"h:9999999", "port out of range"),
    ],
)
def test_bad_initial_messages(data, what):
    with pytest.raises(InitialMessageError, match=what):
        InitialMessageReader().feed(data)


def test_wildcard_addresses_are_left_out():
    msg, _ = InitialMessageReader().feed(struct.pack(">qqi", PROTOCOL_VERSION_V1, 4, 9) + b"0.0.0.0:7")
    assert msg.addresses == ()


def test_addr_len_2048_is_accepted():
    text = b"h" * 2042 + b":3888"
    assert len(text) <= 2048
    data = struct.pack(">qqi", PROTOCOL_VERSION_V1, 2, len(text)) + text
    assert InitialMessageReader().feed(data)[0].sid == 2


# --------------------------------------------------------------------------- frames
def test_frames_split_and_joined():
    r = FrameReader()
    data = frame(b"abc") + frame(b"d" * 100) + frame(b"e")
    out = []
    for b in data:
        out += r.feed(bytes([b]))
    assert out == [b"abc", b"d" * 100, b"e"]


@pytest.mark.parametrize("length", [0, -1, PACKET_MAX_SIZE + 1, 0x7FFFFFFF])
def test_bad_frame_lengths(length):
    with pytest.raises(FrameError, match=f"invalid packet: {length}"):
        FrameReader().feed(struct.pack(">i", length) + b"xxxx")


def test_frame_of_max_size_is_accepted():
    assert FrameReader().feed(frame(b"z" * PACKET_MAX_SIZE)) == [b"z" * PACKET_MAX_SIZE]


# ---------------------------------------------------------------------- notification
def _three_servers():
    return {
        i: QuorumServer(i, ("127.0.0.1", 25370 + i), ("127.0.0.1", 25380 + i)) for i in (1, 2, 3)
    }


def test_notification_is_the_captured_layout():
    # cap (QUORUM_NOTES 2): 000000b6 00000000 ..0002 ..0000 ..0001 ..0000 00000002 0000008a "server.1=...version=0"
    cfg = QuorumMaj(_three_servers()).to_string().encode()
    assert cfg == (
        b"server.1=127.0.0.1:25371:25381:participant\n"
        b"server.2=127.0.0.1:25372:25382:participant\n"
        b"server.3=127.0.0.1:25373:25383:participant\n"
        b"version=0"
    )
    wire = frame(encode_notification(ServerState.LOOKING, 2, 0, 1, 0, cfg))
    assert wire[:48] == bytes.fromhex(
        "000000b6" "00000000" "0000000000000002" "0000000000000000" "0000000000000001" "0000000000000000"
        "00000002" "0000008a"
    )
    assert wire[48:] == cfg
    n = decode_notification(wire[4:], sid=9)
    assert (n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.sid, n.version, n.config) == (
        0, 2, 0, 1, 0, 9, 2, cfg
    )
    assert config_version_of(n.config) == 0


def test_decode_28_bytes_takes_peer_epoch_from_zxid():
    n = decode_notification(struct.pack(">iqqq", 1, 3, 0x500000007, 9))
    assert (n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.version, n.config) == (
        1, 3, 0x500000007, 9, 5, 0, None
    )


def test_decode_40_bytes_has_no_version():
    n = decode_notification(struct.pack(">iqqqqi", 2, 3, 4, 5, 6, 1))
    assert (n.peer_epoch, n.version, n.config) == (6, 0, None)


def test_decode_version_1_has_no_config():
    n = decode_notification(struct.pack(">iqqqqi", 0, 1, 2, 3, 4, 1) + b"junk")
    assert (n.peer_epoch, n.version, n.config) == (4, 1, None)


def test_decode_44_bytes_empty_config():
    n = decode_notification(struct.pack(">iqqqqii", 0, 1, 2, 3, 4, 2, 0))
    assert (n.version, n.config) == (2, b"")


@pytest.mark.parametrize("length", [0, 27, 29, 35, 36, 39, 41, 43])
def test_truncated_notifications_are_refused(length):
    full = encode_notification(0, 1, 2, 3, 4, b"version=0")
    with pytest.raises(NotificationError):
        decode_notification(full[:length])


@pytest.mark.parametrize("cfg_len", [-1, 10, 1000])
def test_bad_config_length_is_refused(cfg_len):
    body = struct.pack(">iqqqqii", 0, 1, 2, 3, 4, 2, cfg_len) + b"abc"
    with pytest.raises(NotificationError):
        decode_notification(body)


@given(st.integers(0, 3), I64, I64, I64, I64, st.binary(max_size=300))
def test_notification_round_trip(state, leader, zxid, ee, pe, cfg):
    n = decode_notification(encode_notification(state, leader, zxid, ee, pe, cfg), sid=4)
    assert (n.state, n.leader, n.zxid, n.election_epoch, n.peer_epoch, n.version, n.config) == (
        state, leader, zxid, ee, pe, 2, cfg
    )


@given(st.binary(max_size=200))
def test_decoders_never_crash_on_garbage(data):
    for decode in (decode_notification,):
        try:
            decode(data)
        except NotificationError:
            pass
    try:
        InitialMessageReader().feed(data)
    except InitialMessageError:
        pass
    try:
        FrameReader().feed(data)
    except FrameError:
        pass
