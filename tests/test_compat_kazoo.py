"""One kazoo script, two servers: zk_twisted and Java ZooKeeper 3.8 must answer alike.

Each test runs the same client script against ``twistd -n zkserver`` and against Apache
ZooKeeper 3.8 (Debian's package) on loopback ports, and compares every answer after
normalizing what legitimately differs (zxids become offsets from the script's first zxid,
times become "t", session ids become names; see ``kazoo_ext.Script``).  Results, all 11
Stat fields, sequence names and error codes are compared strictly; a few facts are also
asserted outright on our answers so that the tests read as a specification.

kazoo lacks some opcodes (createContainer, createTTL, getEphemerals, getAllChildrenNumber,
whoAmI, multiRead, ...): ``kazoo_ext`` sends them through kazoo's own connection.
"""

from __future__ import annotations

import threading

import pytest
from kazoo.client import KazooClient
from kazoo.security import ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, Id, make_digest_acl
from kazoo_ext import (
    CreateContainer,
    CreateTTL,
    GetAllChildrenNumber,
    GetEphemerals,
    MultiRead,
    RawOp,
    Script,
    WhoAmI,
    assert_same,
    call,
    record_events,
)
from zkharness import server_pair

EXTRA = {"extendedTypesEnabled": "true", "maxClientCnxns": "0"}
#: ContainerManager's period: zoo.cfg for us, a JVM property for Java (3.8 reads it only there)
CHECK_MS = 200


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with server_pair(
        tmp_path_factory,
        EXTRA,
        jvmflags=f"-Dznode.container.checkIntervalMs={CHECK_MS}",
        ours_extra={"znode.container.checkIntervalMs": str(CHECK_MS)},
    ) as pair:
        yield pair


def run_both(servers: dict, script, root: str) -> tuple[Script, Script]:
    """Run ``script(s, connect, root)`` against both servers; returns (ours, java)."""
    out = {}
    for name, srv in servers.items():
        s = Script()
        clients: list[KazooClient] = []

        def connect(label: str = "c", auth: str | None = None, srv=srv, s=s, clients=clients) -> KazooClient:
            c = KazooClient(srv.hosts, timeout=10)
            c.start(timeout=15)
            clients.append(c)
            s.session(label, c)
            if auth:
                c.add_auth("digest", auth)
            return c

        try:
            script(s, connect, root)
        finally:
            for c in clients:
                c.stop()
                c.close()
        out[name] = s
    return out["ours"], out["java"]


def begin(s: Script, c: KazooClient, root: str) -> None:
    """Create the script's root; zxids are counted from its creation."""
    path, st = c.create(root, b"root", include_data=True)
    s.base_zxid = st.czxid
    s.note("root", (path, st))


# ------------------------------------------------------------------------------------------


def test_znode_lifecycle_stats_and_sequence_names(servers):
    def script(s, connect, r):
        c = connect("c")
        begin(s, c, r)
        s.step("create", c.create, f"{r}/a", b"hello")
        s.step("create2", c.create, f"{r}/b", b"", include_data=True)
        s.step("get a", c.get, f"{r}/a")
        s.step("exists b", c.exists, f"{r}/b")
        s.step("exists missing", c.exists, f"{r}/missing")
        # setData: version and mzxid move, dataLength follows, cversion does not
        s.step("set a", c.set, f"{r}/a", b"hello world")
        s.step("set a v1", c.set, f"{r}/a", b"", 1)
        s.step("set a stale", c.set, f"{r}/a", b"x", 1)
        s.step("get a empty", c.get, f"{r}/a")
        # cversion arithmetic: +1 per child created or deleted, numChildren, pzxid
        for i in range(3):
            s.step(f"child {i}", c.create, f"{r}/a/k{i}", include_data=True)
        s.step("a after creates", c.exists, f"{r}/a")
        s.step("delete k1", c.delete, f"{r}/a/k1")
        s.step("a after delete", c.exists, f"{r}/a")
        s.step("children a", lambda: sorted(c.get_children(f"{r}/a")))
        s.step("children2 a", lambda: (lambda ch, st: (sorted(ch), st))(*c.get_children(f"{r}/a", include_data=True)))
        # sequence numbers count the parent's creations (not its cversion as the client sees it)
        s.step("seq 1", c.create, f"{r}/a/s-", sequence=True)
        s.step("seq 2", c.create, f"{r}/a/s-", sequence=True, ephemeral=True)
        s.step("seq bare", c.create, f"{r}/a/", sequence=True)
        s.step("delete seq", c.delete, f"{r}/a/s-0000000003")
        s.step("seq 3", c.create, f"{r}/a/s-", sequence=True, include_data=True)
        s.step("seq in empty parent", c.create, f"{r}/b/x", sequence=True)
        s.step("a final", c.exists, f"{r}/a")
        # delete with versions
        s.step("delete b/x stale", c.delete, f"{r}/b/x0000000000", 3)
        s.step("delete b/x", c.delete, f"{r}/b/x0000000000", 0)
        s.step("b final", c.exists, f"{r}/b")
        s.step("sync", c.sync, f"{r}/a")
        s.step("all children", lambda: call(c, GetAllChildrenNumber(r)))
        s.step("all children leaf", lambda: call(c, GetAllChildrenNumber(f"{r}/b")))
        s.step("all children missing", lambda: call(c, GetAllChildrenNumber(f"{r}/zz")))

    ours, java = run_both(servers, script, "/lifecycle")
    assert_same(ours, java)
    got = dict(ours.normalized())
    assert got["seq 1"] == "/lifecycle/a/s-0000000003"
    assert got["seq bare"] == "/lifecycle/a/0000000005"
    assert got["seq 3"][0] == "/lifecycle/a/s-0000000006"
    a = got["a after delete"]
    assert (a["cversion"], a["numChildren"]) == (4, 2)
    assert got["set a stale"] == ("error", "BadVersionError")


def test_error_codes(servers):
    def script(s, connect, r):
        c = connect("c")
        begin(s, c, r)
        c.create(f"{r}/full/child", makepath=True)
        c.create(f"{r}/eph", ephemeral=True)
        s.step("NoNode create", c.create, f"{r}/nope/child")
        s.step("NoNode get", c.get, f"{r}/nope")
        s.step("NoNode set", c.set, f"{r}/nope", b"")
        s.step("NoNode delete", c.delete, f"{r}/nope")
        s.step("NoNode children", c.get_children, f"{r}/nope")
        s.step("NoNode acl", c.get_acls, f"{r}/nope")
        s.step("NoNode setacl", c.set_acls, f"{r}/nope", OPEN_ACL_UNSAFE)
        s.step("NodeExists", c.create, f"{r}/full")
        s.step("BadVersion set", c.set, f"{r}/full", b"", 7)
        s.step("BadVersion delete", c.delete, f"{r}/full/child", 7)
        s.step("BadVersion setacl", c.set_acls, f"{r}/full", OPEN_ACL_UNSAFE, 7)
        s.step("NotEmpty", c.delete, f"{r}/full")
        s.step("NoChildrenForEphemerals", c.create, f"{r}/eph/child")
        s.step("NoChildrenForEphemerals seq", c.create, f"{r}/eph/child", sequence=True)
        s.step("InvalidACL ip", c.create, f"{r}/i1", acl=[ACL(31, Id("ip", "300.1.1.1"))])
        s.step("InvalidACL cidr", c.create, f"{r}/i2", acl=[ACL(31, Id("ip", "10.0.0.0/33"))])
        s.step("InvalidACL scheme", c.create, f"{r}/i3", acl=[ACL(31, Id("nosuch", "x"))])
        s.step("InvalidACL digest", c.create, f"{r}/i4", acl=[ACL(31, Id("digest", "nocolon"))])
        s.step("InvalidACL auth", c.create, f"{r}/i5", acl=[ACL(31, Id("auth", ""))])
        s.step("InvalidACL setacl", c.set_acls, f"{r}/full", [ACL(31, Id("ip", "x"))])
        s.step("BadArguments delete /zookeeper", c.delete, "/zookeeper")
        s.step("BadArguments delete quota", c.delete, "/zookeeper/quota")
        s.step("BadArguments delete config", c.delete, "/zookeeper/config")
        s.step("BadArguments ttl 0", call, c, CreateTTL(f"{r}/t0", b"", OPEN_ACL_UNSAFE, 5, 0))
        s.step("BadArguments ttl huge", call, c, CreateTTL(f"{r}/t1", b"", OPEN_ACL_UNSAFE, 5, 1 << 41))
        s.step("BadArguments ttl w/o ttl mode", call, c, CreateTTL(f"{r}/t2", b"", OPEN_ACL_UNSAFE, 0, 1000))
        s.step("ReconfigDisabled", c.reconfig, "server.5=127.0.0.1:1:2", None, None)
        s.step("NoAuth setData config", c.set, "/zookeeper/config", b"x")
        s.step("NoAuth setACL config", c.set_acls, "/zookeeper/config", OPEN_ACL_UNSAFE)
        # a failed write still consumed a zxid: the next create shows it
        s.step("after errors", c.create, f"{r}/after", include_data=True)
        s.step("unknown opcode", call, c, RawOp(999, b""))

    ours, java = run_both(servers, script, "/errors")
    # 3.8 answers an unknown opcode with UNIMPLEMENTED and then closes the connection; we
    # answer UNIMPLEMENTED and keep it (DESIGN.md 2): the answer itself is the same.
    assert ours.steps[-1] == java.steps[-1] == ("unknown opcode", ("error", "UnimplementedError"))
    assert_same(ours, java)
    got = dict(ours.normalized())
    assert got["ReconfigDisabled"] == ("error", "ReconfigDisabledError")
    assert got["NoChildrenForEphemerals"] == ("error", "NoChildrenForEphemeralsError")


def test_ephemerals_whoami_and_session_views(servers):
    def script(s, connect, r):
        c = connect("c")
        other = connect("other")
        begin(s, c, r)
        c.create(f"{r}/x")
        s.step("eph", c.create, f"{r}/x/e1", b"d", ephemeral=True, include_data=True)
        s.step("eph seq", c.create, f"{r}/x/e-", ephemeral=True, sequence=True)
        s.step("eph top", c.create, f"{r}/e2", ephemeral=True)
        s.step("other eph", other.create, f"{r}/x/o1", ephemeral=True, include_data=True)
        s.step("other sees owner", other.exists, f"{r}/x/e1")
        s.step("persistent owner", c.exists, f"{r}/x")
        for prefix in ("/", "", f"{r}/x", f"{r}/x/e", f"{r}/nothing", r):
            s.step(f"getEphemerals {prefix!r}", lambda p=prefix: sorted(call(c, GetEphemerals(p))))
        s.step("other getEphemerals", lambda: sorted(call(other, GetEphemerals("/"))))
        s.step("whoami", call, c, WhoAmI())
        c.add_auth("digest", "alice:secret")
        c.add_auth("digest", "bob:pw")
        c.add_auth("digest", "alice:secret")
        # unsorted: 3.8 lists a connection's ids in its ConcurrentHashMap's order
        s.step("whoami digest", call, c, WhoAmI())
        c.add_auth("digest", "carol:x")
        c.add_auth("ip", "")
        s.step("whoami more", call, c, WhoAmI())
        s.step("all children x", call, c, GetAllChildrenNumber(f"{r}/x"))
        other.stop()
        s.step("other gone", lambda: sorted(c.get_children(f"{r}/x")))
        s.step("x after other's close", c.exists, f"{r}/x")

    ours, java = run_both(servers, script, "/ephemerals")
    assert_same(ours, java)
    got = dict(ours.normalized())
    assert got["eph"][1]["ephemeralOwner"] == "c"
    assert got["other sees owner"]["ephemeralOwner"] == "c"
    assert sorted(got["whoami digest"]) == [("digest", "alice"), ("digest", "bob"), ("ip", "127.0.0.1")]


def test_acls(servers):
    alice = make_digest_acl("alice", "secret", all=True)
    alice_read = make_digest_acl("alice", "secret", read=True)
    bob_read = make_digest_acl("bob", "pw", read=True)

    def script(s, connect, r):
        anon = connect("anon")
        a = connect("alice", auth="alice:secret")
        b = connect("bob", auth="bob:pw")
        begin(s, anon, r)
        s.step("digest node", a.create, f"{r}/d", b"secret", acl=[alice, bob_read], include_data=True)
        s.step("anon get", anon.get, f"{r}/d")
        s.step("anon exists (no ACL check)", anon.exists, f"{r}/d")
        s.step("anon getacl", anon.get_acls, f"{r}/d")
        s.step("bob get", b.get, f"{r}/d")
        s.step("bob getacl masked", b.get_acls, f"{r}/d")
        s.step("alice getacl", a.get_acls, f"{r}/d")
        s.step("bob set", b.set, f"{r}/d", b"no")
        s.step("bob create child", b.create, f"{r}/d/c")
        s.step("alice create child", a.create, f"{r}/d/c")
        s.step("bob delete child", b.delete, f"{r}/d/c")
        s.step("anon children", anon.get_children, f"{r}/d")
        s.step("bob children", b.get_children, f"{r}/d")
        # setACL needs ADMIN; aversion moves; a stale aversion is BadVersion
        s.step("bob setacl", b.set_acls, f"{r}/d", OPEN_ACL_UNSAFE)
        s.step("alice setacl", a.set_acls, f"{r}/d", [alice, alice_read, bob_read], 0)
        s.step("alice setacl stale", a.set_acls, f"{r}/d", [alice], 0)
        s.step("alice getacl dedup", a.get_acls, f"{r}/d")
        # 'auth' expands to every authenticated id of the connection
        s.step("auth scheme", a.create, f"{r}/au", acl=[ACL(31, Id("auth", ""))])
        s.step("auth acl", a.get_acls, f"{r}/au")
        s.step("auth scheme anon", anon.create, f"{r}/au2", acl=[ACL(31, Id("auth", ""))])
        both = connect("both", auth="bob:pw")
        both.add_auth("digest", "alice:secret")
        both.add_auth("digest", "carol:c")
        s.step("auth scheme, three ids", both.create, f"{r}/au3", acl=[ACL(7, Id("auth", "")), ACL(1, Id("world", "anyone"))])
        s.step("auth acl order", both.get_acls, f"{r}/au3")
        # ip ACLs, with CIDR masks
        s.step("ip loopback /8", anon.create, f"{r}/ip8", b"x", acl=[ACL(31, Id("ip", "127.0.0.0/8"))])
        s.step("ip get /8", anon.get, f"{r}/ip8")
        s.step("ip exact", anon.create, f"{r}/ip32", acl=[ACL(1, Id("ip", "127.0.0.1"))])
        s.step("ip exact get", anon.get, f"{r}/ip32")
        s.step("ip exact set", anon.set, f"{r}/ip32", b"y")
        s.step("ip other net", anon.create, f"{r}/ip10", acl=[ACL(31, Id("ip", "10.0.0.0/8"))])
        s.step("ip other net get", anon.get, f"{r}/ip10")
        s.step("ip other net delete (parent ACL)", anon.delete, f"{r}/ip10")
        # world read-only
        s.step("world read", anon.create, f"{r}/ro", b"r", acl=READ_ACL_UNSAFE)
        s.step("world read set", anon.set, f"{r}/ro", b"w")
        s.step("world read child", anon.create, f"{r}/ro/c")
        s.step("world read getacl", anon.get_acls, f"{r}/ro")
        # permission bits one at a time
        for perms in (0, 2, 4, 8, 16):
            s.step(f"perms {perms}", anon.create, f"{r}/p{perms}", b"v", acl=[ACL(perms, Id("world", "anyone"))])
            s.step(f"perms {perms} get", anon.get, f"{r}/p{perms}")
            s.step(f"perms {perms} set", anon.set, f"{r}/p{perms}", b"w")
            s.step(f"perms {perms} create", anon.create, f"{r}/p{perms}/c")
            s.step(f"perms {perms} delete child", anon.delete, f"{r}/p{perms}/c")
            s.step(f"perms {perms} getacl", anon.get_acls, f"{r}/p{perms}")
            s.step(f"perms {perms} setacl", anon.set_acls, f"{r}/p{perms}", [ACL(31, Id("world", "anyone"))])

    ours, java = run_both(servers, script, "/acls")
    assert_same(ours, java)
    got = dict(ours.normalized())
    assert got["anon get"] == ("error", "NoAuthError")
    masked = got["bob getacl masked"][0]
    assert (1, "digest", "bob:x") in masked and (31, "digest", "alice:x") in masked  # CVE-2019-0201
    assert any(i.startswith("alice:") and i != "alice:x" for _, _, i in got["alice getacl"][0])


def test_multi_and_multiread(servers):
    def script(s, connect, r):
        c = connect("c")
        begin(s, c, r)
        c.create(f"{r}/m", b"0")
        t = c.transaction()
        t.create(f"{r}/m/a", b"A")
        t.create(f"{r}/m/s-", b"", sequence=True)
        t.set_data(f"{r}/m", b"1")
        t.check(f"{r}/m", 1)
        t.delete(f"{r}/m/a")
        s.step("multi ok", t.commit)
        s.step("m after ok", c.get, f"{r}/m")
        s.step("children after ok", lambda: sorted(c.get_children(f"{r}/m")))
        # all or nothing: the failing op has its code, earlier ones RolledBack (0), later ones
        # RuntimeInconsistency; nothing is applied, yet the multi consumed a zxid
        for fail_at in range(4):
            t = c.transaction()
            ops = [
                lambda t: t.create(f"{r}/m/b", b"B"),
                lambda t: t.set_data(f"{r}/m", b"2"),
                lambda t: t.check(f"{r}/m", 1),
                lambda t: t.delete(f"{r}/m/s-0000000001"),
            ]
            bad = [
                lambda t: t.create(f"{r}/nope/b"),
                lambda t: t.set_data(f"{r}/m", b"2", 99),
                lambda t: t.check(f"{r}/m", 99),
                lambda t: t.delete(f"{r}/m/missing"),
            ]
            for i, op in enumerate(ops):
                (bad[i] if i == fail_at else op)(t)
            s.step(f"multi fail at {fail_at}", t.commit)
        s.step("m after failures", c.get, f"{r}/m")
        s.step("children after failures", lambda: sorted(c.get_children(f"{r}/m")))
        t = c.transaction()
        t.create(f"{r}/m/x")
        t.create(f"{r}/m/x")
        s.step("multi duplicate create", t.commit)
        t = c.transaction()
        t.create(f"{r}/m/y")
        t.create(f"{r}/m/y/z")
        t.delete(f"{r}/m/y/z")
        t.delete(f"{r}/m/y")
        s.step("multi sees its own changes", t.commit)
        s.step("empty multi", c.transaction().commit)
        s.step("after", c.create, f"{r}/after", include_data=True)
        s.step(
            "multiRead",
            call,
            c,
            MultiRead([("getData", f"{r}/m"), ("getChildren", f"{r}/m"), ("getData", f"{r}/none"),
                       ("getChildren", f"{r}/none"), ("getData", f"{r}/after")]),
        )  # fmt: skip
        s.step("empty multiRead", call, c, MultiRead([]))

    ours, java = run_both(servers, script, "/multi")
    assert_same(ours, java)
    got = dict(ours.normalized())
    assert got["multi fail at 1"] == [
        ("error", "RolledBackError"),
        ("error", "BadVersionError"),
        ("error", "RuntimeInconsistency"),
        ("error", "RuntimeInconsistency"),
    ]


def test_system_nodes(servers):
    def script(s, connect, r):
        c = connect("c")
        begin(s, c, r)
        for p in ("/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
            s.step(f"get {p}", c.get, p)
            s.step(f"acl {p}", c.get_acls, p)
            s.step(f"children {p}", lambda p=p: sorted(c.get_children(p)))
        s.step("config create child", c.create, "/zookeeper/config/x")
        s.step("zookeeper create child", c.create, "/zookeeper/mine", include_data=True)
        s.step("zookeeper delete child", c.delete, "/zookeeper/mine")
        s.step("root has zookeeper", lambda: "zookeeper" in c.get_children("/"))

    ours, java = run_both(servers, script, "/system")
    assert_same(ours, java)


def test_containers_and_ttl_nodes(servers):
    """Containers vanish once emptied and TTL nodes once unmodified for ttl ms (reaper period 200 ms)."""

    def script(s, connect, r):
        c = connect("c")
        begin(s, c, r)
        gone = {}

        def watch_deleted(path):
            ev = gone[path] = threading.Event()
            c.exists(path, watch=lambda e: e.type == "DELETED" and ev.set())

        s.step("container", call, c, CreateContainer(f"{r}/box", b"c", OPEN_ACL_UNSAFE))
        s.step("container child", c.create, f"{r}/box/item", include_data=True)
        s.step("container stat", c.exists, f"{r}/box")
        s.step("ttl", call, c, CreateTTL(f"{r}/ttl", b"t", OPEN_ACL_UNSAFE, 5, 300))
        s.step("ttl seq", call, c, CreateTTL(f"{r}/ttls-", b"", OPEN_ACL_UNSAFE, 6, 3_600_000))
        s.step("ttl stat", c.exists, f"{r}/ttl")
        s.step("eph under container", c.create, f"{r}/box/e", ephemeral=True)
        watch_deleted(f"{r}/box")
        watch_deleted(f"{r}/ttl")
        c.delete(f"{r}/box/e")
        c.delete(f"{r}/box/item")
        s.note("container reaped", gone[f"{r}/box"].wait(30))
        s.note("ttl reaped", gone[f"{r}/ttl"].wait(30))
        s.step("container gone", c.exists, f"{r}/box")
        s.step("ttl gone", c.exists, f"{r}/ttl")
        s.step("long ttl stays", lambda: sorted(c.get_children(r)))
        # a container never used (no child ever) stays
        s.step("unused container", call, c, CreateContainer(f"{r}/unused", b"", OPEN_ACL_UNSAFE))
        # wait for the reaper to have passed twice: a TTL node of 1 ms created after this one
        s.step("short ttl", call, c, CreateTTL(f"{r}/short", b"", OPEN_ACL_UNSAFE, 5, 1))
        watch_deleted(f"{r}/short")
        s.note("short reaped", gone[f"{r}/short"].wait(30))
        s.step("unused container stays", c.exists, f"{r}/unused")

    ours, java = run_both(servers, script, "/containers")
    assert_same(ours, java)
    got = dict(ours.normalized())
    assert got["container reaped"] and got["ttl reaped"]
    assert got["container stat"]["ephemeralOwner"] == 0 and got["ttl stat"]["ephemeralOwner"] == 0


def test_one_shot_watch_events(servers):
    def script(s, connect, r):
        c = connect("c")
        w = connect("w")
        log = record_events(w)
        begin(s, c, r)
        c.create(f"{r}/d", b"0")
        fired = []
        s.step("data watch", w.get, f"{r}/d", watch=fired.append)
        s.step("child watch", w.get_children, f"{r}/d", watch=fired.append)
        s.step("exists watch on missing", w.exists, f"{r}/new", watch=fired.append)
        s.step("exists watch on d", w.exists, f"{r}/d", watch=fired.append)
        c.set(f"{r}/d", b"1")
        c.set(f"{r}/d", b"2")  # the data watch is spent: one event only
        c.create(f"{r}/d/k")
        c.create(f"{r}/new")
        w.get(f"{r}/d/k", watch=fired.append)
        w.get_children(f"{r}/d/k", watch=fired.append)
        c.delete(f"{r}/d/k")  # data + child watch of the same client: one NodeDeleted
        c.create(f"{r}/sentinel")
        w.exists(f"{r}/sentinel", watch=fired.append)
        c.delete(f"{r}/sentinel")
        s.note("events", log.wait_for(lambda ev: (2, f"{r}/sentinel") in ev))

    ours, java = run_both(servers, script, "/oneshot")
    assert_same(ours, java)
    events = dict(ours.normalized())["events"]
    assert events == [
        (3, "/oneshot/d"),
        (4, "/oneshot/d"),
        (1, "/oneshot/new"),
        (2, "/oneshot/d/k"),
        (2, "/oneshot/sentinel"),
    ]


# ------------------------------------------------------------------------------------------
# servers without extended types (TTL nodes are an extension 3.8 turns off by default)


@pytest.fixture(scope="module")
def plain_servers(tmp_path_factory):
    with server_pair(tmp_path_factory, {"maxClientCnxns": "0"}) as pair:
        yield pair


def test_ttl_is_unimplemented_without_extended_types(plain_servers):
    def script(s, connect, r):
        c = connect("c")
        begin(s, c, r)
        s.step("ttl", call, c, CreateTTL(f"{r}/t", b"", OPEN_ACL_UNSAFE, 5, 1000))
        s.step("ttl seq", call, c, CreateTTL(f"{r}/t", b"", OPEN_ACL_UNSAFE, 6, 1000))
        s.step("container still works", call, c, CreateContainer(f"{r}/c", b"", OPEN_ACL_UNSAFE))
        s.step("after", c.create, f"{r}/after", include_data=True)

    ours, java = run_both(plain_servers, script, "/plain")
    assert_same(ours, java)
    assert dict(ours.normalized())["ttl"] == ("error", "UnimplementedError")
