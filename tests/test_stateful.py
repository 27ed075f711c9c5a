"""Hypothesis stateful test: DataTree + sessions + watches against a small reference model.

Random clients create, delete, update and read znodes (ephemeral and sequential
included), set one-shot, persistent and recursive watches, and close their sessions.
After every step the core's replies and the watch events each client received must be
exactly what the model predicts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from corefakes import CoreClient, make_core, recomputed_digest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from zk_twisted.constants import Code, CreateMode, EventType, OpCode
from zk_twisted.jute import records as R

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

    # ---- rules
    @rule(slot=CLIENTS, where=st.integers(0, 50), name=NAMES, data=DATA, ephemeral=st.booleans(), seq=st.booleans())
    def create(self, slot, where, name, data, ephemeral, seq):
        paths = self._paths()
        par = paths[where % len(paths)]
        path = (par.rstrip("/") + "/" + name) if par != "/" else "/" + name
        flags = (CreateMode.EPHEMERAL if ephemeral else 0) | (CreateMode.PERSISTENT_SEQUENTIAL if seq else 0)
        err, rsp = self.clients[slot].create(path, data, flags=flags)
        pnode = self.model[par]
        if seq:
            path = f"{path}{pnode.creates:010d}"
        if pnode.owner is not None:
            assert err == Code.NOCHILDRENFOREPHEMERALS
        elif path in self.model:
            assert err == Code.NODEEXISTS
        else:
            assert err == 0 and rsp.path == path
            self._model_create(path, data, slot if ephemeral else None)

    @rule(slot=CLIENTS, where=st.integers(0, 50), vdelta=st.sampled_from([None, 0, 1]))
    def delete(self, slot, where, vdelta):
        path = self._paths()[where % len(self._paths())]
        if path == "/":
            return
        node = self.model[path]
        version = -1 if vdelta is None else node.version + vdelta
        err = self.clients[slot].delete(path, version)
        if vdelta == 1:
            assert err == Code.BADVERSION
        elif node.children:
            assert err == Code.NOTEMPTY
        else:
            assert err == 0
            self._model_delete(path)

    @rule(slot=CLIENTS, where=st.integers(0, 50), data=DATA, vdelta=st.sampled_from([None, 0, 1]))
    def set_data(self, slot, where, data, vdelta):
        path = self._paths()[where % len(self._paths())]
        node = self.model[path]
        version = -1 if vdelta is None else node.version + vdelta
        err, stat = self.clients[slot].set(path, data, version)
        if vdelta == 1:
            assert err == Code.BADVERSION
            return
        assert err == 0 and stat.version == node.version + 1
        node.data, node.version = data, node.version + 1
        self._trigger("data", path, EventType.NodeDataChanged)

    @rule(slot=CLIENTS, where=st.integers(0, 50), name=NAMES, watch=st.booleans(), kind=st.sampled_from(["get", "exists", "children"]))
    def read(self, slot, where, name, watch, kind):
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
        path = self._paths()[where % len(self._paths())]
        err, _, _ = self.clients[slot].call(OpCode.addWatch, R.AddWatchRequest(path, 1 if recursive else 0))
        assert err == 0
        self.watches[slot]["recursive" if recursive else "persistent"].add(path)

    @precondition(lambda self: True)
    @rule(slot=CLIENTS)
    def close_session(self, slot):
        gone = sorted((p for p, n in self.model.items() if n.owner == slot), reverse=True)
        self.watches[slot] = self._no_watches()  # the closing client's watches die with its connection
        assert self.clients[slot].close() == 0
        self.clients[slot].events.clear()
        self.zks.connection_lost(self.clients[slot].cnxn)
        for path in sorted(gone):
            if path in self.model:
                self._model_delete(path)
        self.expected[slot] = Counter()
        self.clients[slot] = CoreClient(self.zks)

    @invariant()
    def events_match(self):
        if not hasattr(self, "clients"):
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
        nodes = {p for p in tree.nodes if p and not p.startswith("/zookeeper")}
        assert nodes == set(self.model)
        assert recomputed_digest(tree) == tree.tree_digest
        assert self.zks.db.digest_mismatches == 0


TreeMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
test_tree_machine = TreeMachine.TestCase
