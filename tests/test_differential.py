"""Differential property test: pipelined random write scripts, zk_twisted against Java 3.8.

Hypothesis draws a script of writes (creates, sequential and ephemeral ones included,
deletes and setData with versions that may or may not match, multis that succeed or fail at
any op); the script goes out through kazoo's async API without waiting for any reply, so
each server prepares most of it while earlier writes are still on their way to disk.  Both
servers must give the same answer to every request (error, created name, Stat), the same
per-op results for every multi, and end with the same tree.  A difference shrinks to a
minimal script.

Normalised, and why: zxids are taken relative to the czxid of the script's root node (each
script's writes consume zxids one by one on both servers, failed ones included, so the
offsets must agree; the absolute values differ with each server's history); ctime / mtime
are dropped (wall-clock times of two processes); an ephemeralOwner is compared as "ours"
(the script's session) or 0.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kazoo.client import KazooClient
from kazoo.protocol.states import ZnodeStat
from zkharness import server_pair, started_clients

EXTRA = {"extendedTypesEnabled": "true", "maxClientCnxns": "0"}
#: relative paths a script works on: parents and children, so creates and deletes collide
PATHS = ["a", "a", "b", "a/x", "a/y", "b/x", "a/x/z"]
VERSIONS = st.sampled_from([-1, -1, 0, 1, 2])
DATA = st.sampled_from([b"", b"v", b"longer value"])
#: creates sent ahead of each script (outside its root): they keep the disk busy, so the
#: script is prepared while many txns are in flight, as on a loaded server
BURST = 150
_roots = itertools.count()


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    with server_pair(tmp_path_factory, EXTRA) as pair, started_clients(pair) as made:
        yield made


# ---- scripts: ("create", path, data, ephemeral, sequence) | ("delete", path, version)
#               ("set", path, data, version) | ("check", path, version) | ("multi", [ops])
PATH = st.sampled_from(PATHS)
CREATE = st.tuples(st.just("create"), PATH, DATA, st.booleans(), st.booleans())
DELETE = st.tuples(st.just("delete"), PATH, VERSIONS)
SET = st.tuples(st.just("set"), PATH, DATA, VERSIONS)
CHECK = st.tuples(st.just("check"), PATH, VERSIONS)
MULTI_OPS = st.lists(st.one_of(CREATE, CREATE, DELETE, SET, CHECK), min_size=1, max_size=4)
#: half the multis end in an op bound to fail, after ops that may each have succeeded
DOOMED = st.tuples(st.just("check"), PATH, st.just(99))
MULTI = st.tuples(
    st.just("multi"),
    st.one_of(MULTI_OPS, st.tuples(MULTI_OPS, DOOMED).map(lambda t: [*t[0], t[1]])),
)
SCRIPT = st.lists(st.one_of(CREATE, CREATE, CREATE, DELETE, SET, MULTI, MULTI), min_size=1, max_size=30)


class Normaliser:
    def __init__(self, zk: KazooClient, base_zxid: int) -> None:
        self.session = zk.client_id[0]
        self.base = base_zxid

    def stat(self, s: ZnodeStat) -> tuple:
        owner = "ours" if s.ephemeralOwner == self.session else s.ephemeralOwner
        return (
            s.czxid - self.base, s.mzxid - self.base, s.pzxid - self.base, s.version, s.cversion,
            s.aversion, owner, s.dataLength, s.numChildren,
        )  # fmt: skip

    def value(self, v):
        if isinstance(v, ZnodeStat):
            return self.stat(v)
        if isinstance(v, Exception):
            return type(v).__name__
        if isinstance(v, tuple):
            return tuple(self.value(x) for x in v)
        if isinstance(v, list):
            return [self.value(x) for x in v]
        return v


def _send(zk: KazooClient, root: str, op):
    kind = op[0]
    if kind == "create":
        _, path, data, ephemeral, sequence = op
        return zk.create_async(
            f"{root}/{path}", data, ephemeral=ephemeral, sequence=sequence, include_data=True
        )
    if kind == "delete":
        return zk.delete_async(f"{root}/{op[1]}", op[2])
    if kind == "set":
        return zk.set_async(f"{root}/{op[1]}", op[2], op[3])
    tx = zk.transaction()
    for sub in op[1]:
        if sub[0] == "create":
            tx.create(f"{root}/{sub[1]}", sub[2], ephemeral=sub[3], sequence=sub[4])
        elif sub[0] == "delete":
            tx.delete(f"{root}/{sub[1]}", sub[2])
        elif sub[0] == "set":
            tx.set_data(f"{root}/{sub[1]}", sub[2], sub[3])
        else:
            tx.check(f"{root}/{sub[1]}", sub[2])
    return tx.commit_async()


def _tree(zk: KazooClient, path: str, norm: Normaliser) -> dict:
    out = {}
    data, stat = zk.get(path)
    out[path] = (data, norm.stat(stat))
    for child in sorted(zk.get_children(path)):
        out.update(_tree(zk, f"{path}/{child}", norm))
    return out


def run_script(zk: KazooClient, root: str, script) -> dict:
    _, root_stat = zk.create(root, b"", include_data=True)
    norm = Normaliser(zk, root_stat.czxid)
    zk.create(f"{root}-burst", b"")
    burst = [zk.create_async(f"{root}-burst/{i}", b"") for i in range(BURST)]
    pending = [_send(zk, root, op) for op in script]  # all in flight before any answer is read
    for r in burst:
        r.get(timeout=60)
    answers = []
    for r in pending:
        try:
            answers.append(norm.value(r.get(timeout=60)))
        except Exception as e:  # the answer under comparison is the exception's kind
            answers.append(type(e).__name__)
    tree = {p[len(root) :] or "/": v for p, v in _tree(zk, root, norm).items()}
    return {"answers": answers, "tree": tree}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=SCRIPT)
def test_pipelined_scripts_answer_as_java_does(clients, script):
    root = f"/diff{next(_roots)}"
    ours = run_script(clients["ours"], root, script)
    java = run_script(clients["java"], root, script)
    assert ours["answers"] == java["answers"]
    assert ours["tree"] == java["tree"]
