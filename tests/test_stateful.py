"""Hypothesis stateful test: DataTree + sessions + watches against a small reference model.

Random clients create, delete, update and read znodes (ephemeral and sequential
included), send multis that succeed or fail at any op, set one-shot, persistent and
recursive watches, and close their sessions.  Writes are pipelined: the core's sync stage
holds every txn until a ``flush`` rule makes some or all of them durable, so Prep decides
each write against many outstanding change records (as a loaded server or a leader
does).  The model moves when a write is sent (Prep's order is the order of effect); each
reply, when it comes, must be what the model predicted then, and once nothing is held the
tree, its digest and the watch events each client received must be exactly the model's.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field

from corefakes import OPEN_ACL, CoreClient, flush, make_core, recomputed_digest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from zk_twisted.constants import Code, CreateMode, EventType, OpCode
from zk_twisted.jute import records as R
from zk_twisted.jute.multi import decode_multi_response, encode_multi_request

NAMES = st.sampled_from(["a", "b", "c"])
DATA = st.binary(max_size=8)
CLIENTS = st.integers(0, 2)


@dataclass
class MNode:
    data: bytes
    version: int = 0
    owner: int | None = None  # client slot of an ephemeral's session
    creates: int = 0  # stored cversion: the sequence counter
    children: set[str] = field(default_factory=set)


def parent(path: str) -> str:
    p = path.rsplit("/", 1)[0]
    return p or "/"


def ancestors_or_self(path: str):
    yield path
    while path != "/":
        path = parent(path)
        yield path


class TreeMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.zks, self.clock = make_core()
        self.clients = [CoreClient(self.zks) for _ in range(3)]
        # the root's /zookeeper child is real but outside the model's reach
        self.model: dict[str, MNode] = {"/": MNode(b"", children={"/zookeeper"})}
        # watches[slot]: sets of paths per kind
        self.watches = [self._no_watches() for _ in range(3)]
        self.expected = [Counter() for _ in range(3)]
        #: (slot, xid) -> check(err, body) of a reply not yet seen
        self.awaiting: dict[tuple[int, int], object] = {}

    @staticmethod
    def _no_watches():
        return {"data": set(), "child": set(), "persistent": set(), "recursive": set()}

    # ---- model of event delivery (one trigger = at most one event per client)
    def _trigger(self, kind: str, path: str, event: int, suppress: set[int] | None = None) -> set[int]:
        fired: set[int] = set()
        for slot, w in enumerate(self.watches):
            hit = False
            if path in w[kind]:
                w[kind].discard(path)
                hit = True
            if path in w["persistent"]:
                hit = True
            if event != EventType.NodeChildrenChanged and any(p in w["recursive"] for p in ancestors_or_self(path)):
                hit = True
            if hit and not (suppress and slot in suppress):
                fired.add(slot)
                self.expected[slot][(event, path)] += 1
        return fired

    def _model_create(self, path: str, data: bytes, owner: int | None) -> None:
        par = parent(path)
        self.model[path] = MNode(data, owner=owner)
        self.model[par].children.add(path)
        self.model[par].creates += 1
        self._trigger("data", path, EventType.NodeCreated)
        self._trigger("child", par, EventType.NodeChildrenChanged)

    def _model_delete(self, path: str) -> None:
        par = parent(path)
        del self.model[path]
        self.model[par].children.discard(path)
        fired = self._trigger("data", path, EventType.NodeDeleted)
        self._trigger("child", path, EventType.NodeDeleted, fired)
        self._trigger("child", par, EventType.NodeChildrenChanged)

    def _paths(self):
        return sorted(self.model)

    # ---- pipelining: send now, check the reply when its txn is flushed
    def _send(self, slot: int, op: int, record, check, raw: bytes | None = None) -> None:
        xid = self.clients[slot].send(op, record, raw)
        self.awaiting[(slot, xid)] = check
        self._collect()

    def _collect(self) -> None:
        for slot, c in enumerate(self.clients):
            for xid, (err, _, body) in c.receive().items():
                check = self.awaiting.pop((slot, xid), None)
                assert check is not None, f"unexpected reply {xid} to client {slot}"
                check(err, body)

    def _flush_all(self) -> None:
        flush(self.zks)
        self._collect()
        assert not self.awaiting, f"no replies to {sorted(self.awaiting)}"

    @property
    def _held(self) -> int:
        return len(self.zks.sync.held)

    @rule(count=st.integers(1, 8))
    def flush_some(self, count):
        flush(self.zks, count)
        self._collect()

    @rule()
    def flush_everything(self):
        self._flush_all()

    # ---- the model's view of one write (``m``: the model or a scratch copy of it)
    def _pick(self, where: int) -> str:
        paths = self._paths()
        return paths[where % len(paths)]

    @staticmethod
    def _child(par: str, name: str) -> str:
        return (par.rstrip("/") + "/" + name) if par != "/" else "/" + name

    def _apply_create(self, m, path, data, seq, owner, live) -> tuple[int, str]:
        """(err, created path); applies to ``m`` when it succeeds."""
        par = parent(path)
        pnode = m.get(par)
        if pnode is None:
            return Code.NONODE, path
        if seq:
            path = f"{path}{pnode.creates:010d}"
        if pnode.owner is not None:
            return Code.NOCHILDRENFOREPHEMERALS, path
        if path in m:
            return Code.NODEEXISTS, path
        if live:
            self._model_create(path, data, owner)
        else:
            m[path] = MNode(data, owner=owner)
            pnode.children.add(path)
            pnode.creates += 1
        return 0, path

    def _apply_delete(self, m, path, vdelta, live) -> int:
        node = m.get(path)
        if node is None:
            return Code.NONODE
        if vdelta == 1:
            return Code.BADVERSION
        if node.children:
            return Code.NOTEMPTY
        if live:
            self._model_delete(path)
        else:
            del m[path]
            m[parent(path)].children.discard(path)
        return 0

    def _apply_set(self, m, path, data, vdelta, live) -> tuple[int, int]:
        node = m.get(path)
        if node is None:
            return Code.NONODE, 0
        if vdelta == 1:
            return Code.BADVERSION, 0
        node.data, node.version = data, node.version + 1
        if live:
            self._trigger("data", path, EventType.NodeDataChanged)
        return 0, node.version

    # ---- rules
    @rule(slot=CLIENTS, where=st.integers(0, 50), name=NAMES, data=DATA, ephemeral=st.booleans(), seq=st.booleans())
    def create(self, slot, where, name, data, ephemeral, seq):
        path = self._child(self._pick(where), name)
        flags = (CreateMode.EPHEMERAL if ephemeral else 0) | (CreateMode.PERSISTENT_SEQUENTIAL if seq else 0)
        want, created = self._apply_create(self.model, path, data, seq, slot if ephemeral else None, True)

        def check(err, body):
            assert err == want, (path, err, want)
            if err == 0:
                assert R.Create2Response.from_bytes(body).path == created

        self._send(slot, OpCode.create2, R.CreateRequest(path, data, OPEN_ACL, flags), check)

    @rule(slot=CLIENTS, where=st.integers(0, 50), vdelta=st.sampled_from([None, 0, 1]))
    def delete(self, slot, where, vdelta):
        path = self._pick(where)
        if path == "/":
            return
        version = -1 if vdelta is None else self.model[path].version + vdelta
        want = self._apply_delete(self.model, path, vdelta, True)

        def check(err, body):
            assert err == want, (path, err, want)

        self._send(slot, OpCode.delete, R.DeleteRequest(path, version), check)

    @rule(slot=CLIENTS, where=st.integers(0, 50), data=DATA, vdelta=st.sampled_from([None, 0, 1]))
    def set_data(self, slot, where, data, vdelta):
        path = self._pick(where)
        version = -1 if vdelta is None else self.model[path].version + vdelta
        want, new_version = self._apply_set(self.model, path, data, vdelta, True)

        def check(err, body):
            assert err == want, (path, err, want)
            if err == 0:
                assert R.SetDataResponse.from_bytes(body).stat.version == new_version

        self._send(slot, OpCode.setData, R.SetDataRequest(path, data, version), check)

    MULTI_OPS = st.lists(
        st.tuples(
            st.sampled_from(["create", "delete", "set", "check"]),
            st.integers(0, 50), NAMES, DATA, st.sampled_from([None, 0, 1]), st.booleans(),
        ),
        min_size=1,
        max_size=4,
    )

    @rule(slot=CLIENTS, ops=MULTI_OPS)
    def multi(self, slot, ops):
        """All or nothing: tried on a scratch copy of the model first; applied (with the
        watches it triggers) only if every op succeeds."""
        scratch = copy.deepcopy(self.model)
        requests, results, failed = [], [], None
        for kind, where, name, data, vdelta, seq in ops:
            path = self._pick(where)
            node = scratch.get(path)
            version = -1 if vdelta is None or node is None else node.version + vdelta
            if kind == "create":
                path = self._child(path, name)
                requests.append((OpCode.create2, R.CreateRequest(path, data, OPEN_ACL, CreateMode.PERSISTENT_SEQUENTIAL if seq else 0)))
                err, created = self._apply_create(scratch, path, data, seq, None, False) if failed is None else (0, "")
                results.append((OpCode.create2, err, created))
            elif kind == "delete":
                if path == "/":
                    path = "/zz-missing"  # deleting the root is not modelled; a missing node is
                requests.append((OpCode.delete, R.DeleteRequest(path, version)))
                err = self._apply_delete(scratch, path, vdelta, False) if failed is None else 0
                results.append((OpCode.delete, err, None))
            elif kind == "set":
                requests.append((OpCode.setData, R.SetDataRequest(path, data, version)))
                err, new_version = self._apply_set(scratch, path, data, vdelta, False) if failed is None else (0, 0)
                results.append((OpCode.setData, err, new_version))
            else:
                requests.append((OpCode.check, R.CheckVersionRequest(path, version)))
                err = (Code.NONODE if node is None else Code.BADVERSION if vdelta == 1 else 0) if failed is None else 0
                results.append((OpCode.check, err, None))
            if failed is None and err:
                failed = len(results) - 1
        if failed is None:  # again, for real: the model and the watches move
            for (_, _, _, data, vdelta, seq), (op, rec) in zip(ops, requests, strict=True):
                if op == OpCode.create2:
                    self._apply_create(self.model, rec.path, data, seq, None, True)
                elif op == OpCode.delete:
                    self._apply_delete(self.model, rec.path, vdelta, True)
                elif op == OpCode.setData:
                    self._apply_set(self.model, rec.path, data, vdelta, True)

        def check(err, body):
            assert err == 0
            got = decode_multi_response(body)
            assert len(got) == len(results)
            for i, ((op, _want_err, value), (rtype, rerr, rec)) in enumerate(zip(results, got, strict=True)):
                if failed is not None:
                    want = 0 if i < failed else (results[failed][1] if i == failed else Code.RUNTIMEINCONSISTENCY)
                    assert (rtype, rerr) == (OpCode.error, want), (i, rtype, rerr, results)
                elif op == OpCode.create2:
                    assert (rtype, rerr) == (OpCode.create2, 0) and rec.path == value
                elif op == OpCode.setData:
                    assert (rtype, rerr) == (OpCode.setData, 0) and rec.stat.version == value
                else:
                    assert (rtype, rerr) == (op, 0)

        self._send(slot, OpCode.multi, None, check, raw=encode_multi_request(requests))

    @rule(slot=CLIENTS, where=st.integers(0, 50), name=NAMES, watch=st.booleans(), kind=st.sampled_from(["get", "exists", "children"]))
    def read(self, slot, where, name, watch, kind):
        self._flush_all()  # the model is what Prep sees; a read sees what is applied
        paths = self._paths()
        path = paths[where % len(paths)]
        if name == "c":  # sometimes ask for a path that does not exist
            path = (path.rstrip("/") + "/zz") if path != "/" else "/zz"
        node = self.model.get(path)
        c = self.clients[slot]
        if kind == "get":
            err, rsp = c.get(path, watch)
            assert err == (0 if node else Code.NONODE)
            if node:
                assert rsp.data == node.data and rsp.stat.version == node.version
                if watch:
                    self.watches[slot]["data"].add(path)
        elif kind == "exists":
            err, stat = c.exists(path, watch)
            assert err == (0 if node else Code.NONODE)
            if watch:
                self.watches[slot]["data"].add(path)
            if node:
                assert stat.numChildren == len(node.children)
        else:
            err, rsp = c.children(path, watch)
            assert err == (0 if node else Code.NONODE)
            if node:
                assert sorted(rsp.children) == sorted(p.rsplit("/", 1)[1] for p in node.children)
                if watch:
                    self.watches[slot]["child"].add(path)

    @rule(slot=CLIENTS, where=st.integers(0, 50), recursive=st.booleans())
    def add_watch(self, slot, where, recursive):
        self._flush_all()
        path = self._paths()[where % len(self._paths())]
        err, _, _ = self.clients[slot].call(OpCode.addWatch, R.AddWatchRequest(path, 1 if recursive else 0))
        assert err == 0
        self.watches[slot]["recursive" if recursive else "persistent"].add(path)

    @rule(slot=CLIENTS)
    def close_session(self, slot):
        """Sent behind whatever is held: Prep must find the session's in-flight ephemerals."""
        gone = sorted((p for p, n in self.model.items() if n.owner == slot), reverse=True)
        self.watches[slot] = self._no_watches()  # the closing client's watches die with its connection
        for path in sorted(gone):
            if path in self.model:
                self._model_delete(path)

        def check(err, body):
            assert err == 0

        self._send(slot, OpCode.closeSession, None, check)
        self._flush_all()
        self.clients[slot].events.clear()
        self.zks.connection_lost(self.clients[slot].cnxn)
        self.expected[slot] = Counter()
        self.clients[slot] = CoreClient(self.zks)

    @invariant()
    def events_match(self):
        if not hasattr(self, "clients") or self._held:
            return
        for slot, c in enumerate(self.clients):
            c.call(OpCode.ping)  # flush: any event would precede the ping reply
            assert Counter(c.events) == self.expected[slot], f"client {slot}"
            c.events.clear()
            self.expected[slot] = Counter()

    @invariant()
    def tree_matches(self):
        if not hasattr(self, "zks"):
            return
        tree = self.zks.db.tree
        assert recomputed_digest(tree) == tree.tree_digest
        assert self.zks.db.digest_mismatches == 0
        if self._held:
            return
        nodes = {p for p in tree.nodes if p and not p.startswith("/zookeeper")}
        assert nodes == set(self.model)
        assert not self.zks.prep.outstanding and not self.zks.prep.outstanding_for_path

    def teardown(self):
        if hasattr(self, "zks"):
            self._flush_all()
            self.tree_matches()


TreeMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
test_tree_machine = TreeMachine.TestCase
