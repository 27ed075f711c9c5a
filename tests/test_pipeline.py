"""Pipelined writes against a live server, side by side with Java ZooKeeper 3.8 (issue 9).

kazoo's async API sends a request without waiting for the one before, so while a burst of
creates is on its way to the disk, Prep has many txns' change records outstanding.  These
are the two cases that went wrong there: a failed multi's rollback lost the in-flight change
of its parent (ZOOKEEPER-1624: the next sequential name repeated a counter), and a multi
mixing read and write ops left phantom change records behind (a following create of the
multi's path answered NODEEXISTS).  Both servers must answer alike, and ours must never log
a digest mismatch (checked for every server a test starts, see conftest.py).
"""

from __future__ import annotations

import struct

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import MarshallingError
from kazoo.protocol.serialization import Create, GetData
from kazoo.security import OPEN_ACL_UNSAFE
from kazoo_ext import RawOp
from zkharness import server_pair, started_clients

EXTRA = {"extendedTypesEnabled": "true", "maxClientCnxns": "0"}
BURST = 300  # creates in flight ahead of the multi: enough that none is applied yet
TRIES = 5


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with server_pair(tmp_path_factory, EXTRA) as pair:
        yield pair


@pytest.fixture
def clients(servers):
    with started_clients(servers) as made:
        yield made


def _outcome(async_result):
    try:
        return ("ok", async_result.get(timeout=60))
    except Exception as e:  # the answer under test is the exception's kind
        return ("error", type(e).__name__)


def _failed_multi_then_sequential(zk: KazooClient, root: str) -> list:
    zk.create(f"{root}/t", b"", makepath=True)
    burst = [zk.create_async(f"{root}/burst-{i}", b"") for i in range(BURST)]
    x = zk.create_async(f"{root}/t/x", b"")
    tx = zk.transaction()
    tx.create(f"{root}/t/m", b"")
    tx.check("/", 99)
    multi = tx.commit_async()
    seq = zk.create_async(f"{root}/t/s-", b"", sequence=True)
    results = [_outcome(r) for r in burst]
    assert all(r[0] == "ok" for r in results), results[:3]
    multi_results = multi.get(timeout=60)
    return [
        _outcome(x),
        [type(r).__name__ if isinstance(r, Exception) else r for r in multi_results],
        _outcome(seq),
        sorted(zk.get_children(f"{root}/t")),
        zk.exists(f"{root}/t").cversion,
    ]


def test_failed_multi_keeps_parent_change_in_flight(servers, clients):
    """ZOOKEEPER-1624: the multi's rollback must give /t back the change of the in-flight
    create /t/x, or the sequential create after it reuses /t/x's counter."""
    for i in range(TRIES):
        answers = {name: _failed_multi_then_sequential(zk, f"/f{i}") for name, zk in clients.items()}
        assert answers["ours"] == answers["java"]
        java = answers["java"]
        assert java[1] == ["RolledBackError", "BadVersionError"] and java[2] == (
            "ok",
            f"/f{i}/t/s-0000000001",
        )


def _mixed_multi(path: str) -> RawOp:
    """A multi (op 14) of create ``path`` then getData /: 3.8 refuses the mix while decoding."""
    body = struct.pack(">i?i", 1, False, -1) + Create(path, b"", OPEN_ACL_UNSAFE, 0).serialize()
    body += struct.pack(">i?i", 4, False, -1) + GetData("/", None).serialize()
    body += struct.pack(">i?i", -1, True, -1)
    return RawOp(14, body)


def _mixed_multi_then_create(zk: KazooClient, root: str) -> list:
    zk.create(f"{root}/u", b"", makepath=True)
    burst = [zk.create_async(f"{root}/burst-{i}", b"") for i in range(BURST)]
    mixed = zk.handler.async_result()
    zk._call(_mixed_multi(f"{root}/u/m"), mixed)
    create = zk.create_async(f"{root}/u/m", b"")
    assert all(_outcome(r)[0] == "ok" for r in burst)
    stat = zk.exists(f"{root}/u")
    return [_outcome(mixed), _outcome(create), zk.get_children(f"{root}/u"), stat.cversion, stat.numChildren]


def test_mixed_multi_leaves_no_phantom_node(servers, clients):
    """A read op inside a write multi: MARSHALLINGERROR, and no trace of the multi's create."""
    for i in range(TRIES):
        answers = {name: _mixed_multi_then_create(zk, f"/m{i}") for name, zk in clients.items()}
        assert answers["ours"] == answers["java"]
        java = answers["java"]
        assert java[0] == ("error", MarshallingError.__name__) and java[1] == ("ok", f"/m{i}/u/m")
