"""The AdminServer: every 3.8 command name over HTTP, side by side with Java 3.8's Jetty AdminServer.

One zk_twisted and one Java ZooKeeper 3.8 (Debian's package, servlet-api on its classpath)
run the same kazoo script; then every command name is fetched from both and the JSON
compared: the same keys, value types and nesting, equal values where the same script must
give equal values (watches, ephemerals, node and session counts, digests' zxids), and the
same bytes where nothing differs between servers (ruok, errors, the quorum-only commands,
the link list).  Then the cases around it: a port already in use (3.8 standalone exits with
status 4, so must we), admin.enableServer=false, another commandURL, idleTimeout.  The JSON
writer, the response map and the quorum fields are also tested in process.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import sys
import time
from pathlib import Path

import pytest
from twisted.internet.task import Clock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zkharness import JavaZK, ZKProcess, four_letter, free_port, wait_for  # noqa: E402

from zk_twisted.admin.commands import (  # noqa: E402
    COMMANDS,
    PRIMARY_NAMES,
    ZK_NOT_SERVING,
    CommandResponse,
    run_command,
)
from zk_twisted.admin.jsonout import to_json  # noqa: E402
from zk_twisted.admin.monitor import is_not_measured  # noqa: E402
from zk_twisted.admin.view import ServerView  # noqa: E402
from zk_twisted.config import ConfigError, parse_config  # noqa: E402
from zk_twisted.server.zkdatabase import ZKDatabase  # noqa: E402
from zk_twisted.server.zkserver import ServerSettings, ZooKeeperServer  # noqa: E402

KazooClient = pytest.importorskip("kazoo.client").KazooClient

#: every name 3.8.0's Commands registers, primary name first
NAMES_38 = {
    "connection_stat_reset": ["crst"], "configuration": ["conf", "config"], "connections": ["cons"],
    "dirs": [], "dump": [], "environment": ["env", "envi"], "get_trace_mask": ["gtmk"], "hash": [],
    "initial_configuration": ["icfg"], "is_read_only": ["isro"], "last_snapshot": ["lsnp"],
    "leader": ["lead"], "monitor": ["mntr"], "observer_connection_stat_reset": ["orst"], "ruok": [],
    "set_trace_mask": ["stmk"], "server_stats": ["srvr"], "stats": ["stat"], "stat_reset": ["srst"],
    "observers": ["obsr"], "system_properties": ["sysp"], "voting_view": [], "watches": ["wchc"],
    "watches_by_path": ["wchp"], "watch_summary": ["wchs"], "zabstate": [],
}  # fmt: skip
ALL_NAMES = [n for primary, aliases in NAMES_38.items() for n in (primary, *aliases)]
#: answers that carry nothing server-specific: Java's bytes and ours must be equal
SAME_BYTES = (
    "ruok", "crst", "orst", "srst", "isro", "gtmk", "stmk", "leader", "lead", "zabstate", "observers",
    "voting_view", "wchs", "no_such_command", "ruok/extra", "stmk?traceMask=abc", "stmk?traceMask=-0x1",
)  # fmt: skip


# ---------------------------------------------------------------------- http
def http_get(port: int, path: str, method: str = "GET", timeout: float = 10.0):
    """(status, headers, body) of one request to 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def command(port: int, name: str) -> dict:
    status, headers, body = http_get(port, f"/commands/{name}")
    assert status == 200 and headers["content-type"] == "application/json", (name, status, headers)
    return json.loads(body)


def shape(v):
    """Keys, nesting and value types; numeric map keys (session ids, times) as one key."""
    if isinstance(v, dict):
        return {("<n>" if re.fullmatch(r"-?\d+", k) else k): shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return sorted({json.dumps(shape(x), sort_keys=True) for x in v})
    return type(v).__name__


# ---------------------------------------------------------------------- the two servers
def _admin_lines(port: int) -> dict:
    return {"admin.enableServer": "true", "admin.serverPort": str(port), "admin.serverAddress": "127.0.0.1"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    ours = ZKProcess(tmp_path_factory.mktemp("admin_ours"), extra=_admin_lines(free_port()))
    java = JavaZK(tmp_path_factory.mktemp("admin_java"), extra=_admin_lines(free_port()))
    ours.admin_port = int(ours.extra["admin.serverPort"])
    java.admin_port = int(java.extra["admin.serverPort"])
    ours.start(wait=False)
    try:
        java.start()
        ours.wait_ready()
        yield ours, java
    finally:
        ours.stop()
        java.stop()


def _script(server) -> None:
    """The same client work on either server: 2 sessions, an ephemeral, watches, 130 nodes."""
    a = KazooClient(hosts=server.hosts, timeout=10)
    b = KazooClient(hosts=server.hosts, timeout=10)
    a.start(timeout=15)
    b.start(timeout=15)
    server.clients = (a, b)
    a.create("/adm", b"x")
    a.create("/adm/e", b"y", ephemeral=True)
    for r in [a.create_async("/adm/n-", b"", sequence=True) for _ in range(130)]:
        r.get(timeout=15)
    a.get("/adm", watch=lambda e: None)
    a.get_children("/adm", watch=lambda e: None)
    a.exists("/adm/none", watch=lambda e: None)
    b.get("/adm", watch=lambda e: None)
    b.get("/adm/e", watch=lambda e: None)


@pytest.fixture(scope="module")
def answers(pair):
    """Every name's answer from both servers, after the same script: {"ours": {..}, "java": {..}}."""
    out = {}
    for key, server in zip(("ours", "java"), pair, strict=True):
        _script(server)
        port = server.admin_port
        out[key] = {n: http_get(port, f"/commands/{n}") for n in (*ALL_NAMES, *SAME_BYTES)}
        out[key]["/commands"] = http_get(port, "/commands")
        out[key]["/commands/"] = http_get(port, "/commands/")
    yield out
    for server in pair:
        for kz in server.clients:
            kz.stop()
            kz.close()


def _json(answers, who: str, name: str) -> dict:
    status, headers, body = answers[who][name]
    assert status == 200, (who, name, status, body)
    assert headers.get("content-type") == "application/json", (who, name, headers)
    return json.loads(body)


# ---------------------------------------------------------------------- side by side with Java
def test_every_name_answers_with_javas_shape(answers):
    for name in ALL_NAMES:
        ours, java = _json(answers, "ours", name), _json(answers, "java", name)
        primary = next(p for p, aliases in NAMES_38.items() if name == p or name in aliases)
        assert ours["command"] == java["command"] == primary, name
        assert ours.get("error", "missing") == java.get("error", "missing"), name
        if primary in ("monitor", "system_properties"):
            continue  # the JVM's own keys: compared below
        assert shape(ours) == shape(java), (name, ours, java)
        assert list(ours) == list(java), name  # 3.8's key order too


def test_monitor_is_38s_minus_what_we_do_not_measure(answers):
    ours, java = _json(answers, "ours", "monitor"), _json(answers, "java", "monitor")
    assert _json(answers, "ours", "mntr").keys() == ours.keys()
    assert set(ours) <= set(java), sorted(set(ours) - set(java))
    missing = [k for k in java if k not in ours]
    assert all(is_not_measured(k) for k in missing), [k for k in missing if not is_not_measured(k)]
    assert list(ours) == [k for k in java if k in ours]  # 3.8's order
    for k in ours:
        assert type(ours[k]) is type(java[k]), (k, ours[k], java[k])
    for k in ("znode_count", "ephemerals_count", "watch_count", "num_alive_connections", "global_sessions"):
        assert ours[k] == java[k], k
    assert ours["server_state"] == java["server_state"] == "standalone"


def test_system_properties_carry_the_zoo_cfg_keys_as_38(answers):
    ours, java = _json(answers, "ours", "system_properties"), _json(answers, "java", "system_properties")
    launch = {"zookeeper.log.dir", "zookeeper.log.file"}  # zk_java.sh's -D flags
    zk = lambda d: {k for k in d if k.startswith("zookeeper.")}  # noqa: E731
    assert zk(ours) == zk(java) - launch
    assert ours["zookeeper.admin.enableServer"] == java["zookeeper.admin.enableServer"] == "true"
    common = {"java.version", "java.home", "os.name", "os.arch", "user.name", "user.dir", "file.separator"}
    assert common <= set(ours) and common <= set(java)
    props = lambda d: [k for k in d if k not in ("command", "error")]  # noqa: E731
    assert all(isinstance(ours[k], str) for k in props(ours))
    assert props(ours) == sorted(props(ours)) and props(java) == sorted(props(java))
    assert _json(answers, "ours", "environment").keys() == _json(answers, "java", "environment").keys()


def test_values_the_same_script_makes_equal(answers, pair):
    o = lambda n: _json(answers, "ours", n)  # noqa: E731
    j = lambda n: _json(answers, "java", n)  # noqa: E731
    assert o("watch_summary") == j("watch_summary") == {
        "num_connections": 2, "num_paths": 3, "num_total_watches": 4, "command": "watch_summary", "error": None,
    }  # fmt: skip
    paths = lambda d: sorted(sorted(p) for p in d["session_id_to_watched_paths"].values())  # noqa: E731
    assert paths(o("watches")) == paths(j("watches")) == [["/adm", "/adm/e"], ["/adm", "/adm/none"]]
    counts = lambda d: {p: len(s) for p, s in d["path_to_session_ids"].items()}  # noqa: E731
    assert counts(o("watches_by_path")) == counts(j("watches_by_path")) == {"/adm": 2, "/adm/e": 1, "/adm/none": 1}
    for d in (o("dump"), j("dump")):
        assert sorted(d["session_id_to_ephemeral_paths"].values()) == [["/adm/e"]]
        assert sum(len(s) for s in d["expiry_time_to_session_ids"].values()) == 2
    for name in ("server_stats", "stats"):
        ours, java = o(name), j(name)
        assert ours["node_count"] == java["node_count"]
        for k in ("last_processed_zxid", "num_alive_client_connections", "server_state"):
            assert ours["server_stats"][k] == java["server_stats"][k], k
    assert len(o("stats")["connections"]) == len(j("stats")["connections"]) == 2
    timeouts = lambda d: sorted(c["session_timeout"] for c in d["connections"])  # noqa: E731
    assert timeouts(o("connections")) == timeouts(j("connections")) == [10000, 10000]
    # one digest at zxid 0x80; the digest itself covers ctime/mtime, so it differs
    for d in (o("hash"), j("hash")):
        assert [(x["zxid"], x["digest_version"]) for x in d["digests"]] == [(128, 2)]
    conf_o, conf_j = o("configuration"), j("configuration")
    for k in ("tick_time", "max_client_cnxns", "min_session_timeout", "max_session_timeout", "server_id"):
        assert conf_o[k] == conf_j[k], k
    for server, conf in zip(pair, (conf_o, conf_j), strict=True):
        assert conf["client_port"] == server.port
        assert conf["data_dir"] == str(Path(server.data_dir, "version-2"))
    # the snapshot both write at start-up: snapshot.0, timestamp its mtime in seconds
    for server, d in zip(pair, (o("last_snapshot"), j("last_snapshot")), strict=True):
        snap = Path(server.data_dir, "version-2", "snapshot.0")
        assert d["zxid"] == "0" and d["timestamp"] == int(snap.stat().st_mtime)
    ours_cfg = Path(pair[0].cfg_path).read_text()
    assert o("initial_configuration")["initial_configuration"] == ours_cfg
    assert j("initial_configuration")["initial_configuration"] == Path(pair[1].base, "zoo.cfg").read_text()


def test_same_bytes_as_java_where_nothing_differs(answers):
    for name in (*SAME_BYTES, "/commands", "/commands/"):
        ours, java = answers["ours"][name], answers["java"][name]
        assert (ours[0], ours[2]) == (java[0], java[2]), (name, ours, java)
    status, headers, body = answers["ours"]["/commands"]
    assert "content-type" not in headers  # 3.8 sets none on the list
    links = re.findall(r'<a href="/commands/(\w+)">(\w+)</a>\n<br/>\n', body.decode())
    assert [a for a, b in links] == [b for a, b in links] == sorted(NAMES_38)
    unknown = json.loads(answers["ours"]["no_such_command"][2])
    assert unknown == {"command": "no_such_command", "error": "Unknown command: no_such_command"}
    assert json.loads(answers["ours"]["leader"][2]) == {"error": "server is not initialized", "command": "leader"}


def test_methods_and_paths_as_jetty(pair):
    ours, java = pair
    for method, path in (
        ("GET", "/other"), ("GET", "/commandsx"), ("POST", "/commands/ruok"), ("PUT", "/commands/ruok"),
        ("TRACE", "/commands/ruok"), ("OPTIONS", "/commands/ruok"), ("HEAD", "/commands/ruok"),
    ):  # fmt: skip
        o = http_get(ours.admin_port, path, method)
        j = http_get(java.admin_port, path, method)
        assert o[0] == j[0], (method, path, o, j)
        if method in ("OPTIONS", "HEAD"):
            assert o[2] == j[2] == b"", method
    assert http_get(ours.admin_port, "/commands/ruok", "OPTIONS")[1]["allow"] == "GET, HEAD, TRACE, OPTIONS"


def test_admin_and_four_letter_words_share_the_server_state(pair):
    for server in pair:
        assert command(server.admin_port, "stmk?traceMask=4660")["tracemask"] == 4660
        assert four_letter(server.port, "gtmk") == "4660"
        assert command(server.admin_port, "set_trace_mask?traceMask=306")["tracemask"] == 306
        command(server.admin_port, "stat_reset")
        received = command(server.admin_port, "srvr")["server_stats"]["packets_received"]
        assert received < 100, received  # reset (the script sent far more): a few pings since
        assert command(server.admin_port, "ruok")["error"] is None


# ---------------------------------------------------------------------- start-up cases
def test_port_in_use_exits_4_as_38_standalone(pair, tmp_path):
    """ZooKeeperServerMain: 'Unable to start AdminServer, exiting abnormally', status 4.
    (A 3.8 quorum peer logs it and serves on; that path is QuorumPeer's to take.)"""
    ours, java = pair
    taken = java.admin_port  # Java's AdminServer holds it
    clash = ZKProcess(tmp_path / "ours", extra=_admin_lines(taken))
    try:
        clash.start(wait=False)
        assert clash.proc.wait(60) == 4, clash.log()
    finally:
        clash.stop()
    assert "Unable to start AdminServer, exiting abnormally" in clash.log()
    assert "Address already in use" in clash.log()
    java_clash = JavaZK(tmp_path / "java", extra=_admin_lines(ours.admin_port))
    try:
        with pytest.raises(RuntimeError, match="server exited"):
            java_clash.start()
    finally:
        java_clash.stop()
    assert "Unable to start AdminServer, exiting abnormally" in Path(tmp_path, "java", "zk.out").read_text()
    for server in pair:  # the holders serve on
        assert command(server.admin_port, "ruok")["error"] is None


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_disabled_and_custom_url_and_idle_timeout(zk_factory):
    off_port, on_port = free_port(), free_port()
    off = zk_factory(extra={"admin.enableServer": "false", "admin.serverPort": off_port}, name="off")
    on = zk_factory(
        extra={**_admin_lines(on_port), "admin.commandURL": "/zk/cmds", "admin.idleTimeout": "300", "snapCount": "2"},
        name="on",
    )
    assert four_letter(off.port, "ruok") == "imok"
    assert _port_is_free(off_port) and "admin.enableServer=false" in off.log()
    status, _, body = http_get(on_port, "/zk/cmds")
    assert status == 200 and body.decode().startswith('<a href="/zk/cmds/configuration">configuration</a>\n')
    assert json.loads(http_get(on_port, "/zk/cmds/isro")[2])["read_only"] is False
    assert http_get(on_port, "/commands/ruok")[0] == 404
    # last_snapshot follows the snapshots taken while serving (snapCount=2: one every 2 txns)
    kz = KazooClient(hosts=on.hosts, timeout=10)
    kz.start(timeout=15)
    try:
        for i in range(4):
            kz.create(f"/s{i}")
    finally:
        kz.stop()
        kz.close()
    lsnp = lambda: json.loads(http_get(on_port, "/zk/cmds/lsnp")[2])  # noqa: E731
    wait_for(lambda: lsnp()["zxid"] != "0", 30, what="a snapshot taken while serving")
    snap = Path(on.data_dir, "version-2", f"snapshot.{lsnp()['zxid']}")
    assert lsnp()["timestamp"] == int(snap.stat().st_mtime)
    # an idle kept-alive connection is closed by the server once idleTimeout has passed
    with socket.create_connection(("127.0.0.1", on_port), timeout=30) as s:
        s.sendall(b"GET /zk/cmds/ruok HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        t0 = time.monotonic()
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        assert got.startswith(b"HTTP/1.1 200 ") and b'"command" : "ruok"' in got
        assert time.monotonic() - t0 < 25  # closed by the server, not by our 30 s timeout


# ---------------------------------------------------------------------- config
def _cfg(text: str = "", **kw):
    return parse_config(f"dataDir=/tmp/zk-admin-test\nclientPort=2181\n{text}", **kw)


def test_config_keys_and_system_properties():
    cfg = _cfg()
    assert (cfg.admin_enable_server, cfg.admin_server_address, cfg.admin_server_port) == (True, "0.0.0.0", 8080)
    assert (cfg.admin_command_url, cfg.admin_idle_timeout) == ("/commands", 30000)
    cfg = _cfg("admin.enableServer=false\nadmin.serverPort=0x1F91\nadmin.commandURL=/c\nadmin.idleTimeout=5\n")
    assert (cfg.admin_enable_server, cfg.admin_server_port, cfg.admin_command_url) == (False, 8081, "/c")
    assert cfg.admin_idle_timeout == 5 and "admin.serverPort" not in cfg.not_acted_on
    assert _cfg("admin.enableServer=False\n").admin_enable_server  # only exactly "false" turns it off
    jvm = {"zookeeper.admin.serverPort": "9090", "zookeeper.admin.enableServer": "false"}
    assert (_cfg(jvm_properties=jvm).admin_server_port, _cfg(jvm_properties=jvm).admin_enable_server) == (9090, False)
    assert _cfg("admin.serverPort=9091\n", jvm_properties=jvm).admin_server_port == 9091  # zoo.cfg sets it later
    assert "admin.httpVersion" in _cfg("admin.httpVersion=11\n").not_acted_on
    for bad in ("admin.serverPort=http", "admin.serverPort=70000", "admin.forceHttps=TRUE"):
        with pytest.raises(ConfigError, match=bad.split("=")[0]):
            _cfg(bad + "\n")
    assert not _cfg("admin.enableServer=false\nadmin.forceHttps=true\n").admin_enable_server
    assert "admin.portUnification" in _cfg("admin.portUnification=true\n").not_acted_on  # HTTP still served


# ---------------------------------------------------------------------- in process
def _view(context=None) -> ServerView:
    clock = Clock()
    clock.advance(1_700_000_000)
    return ServerView(ZooKeeperServer(ServerSettings(), ZKDatabase(), clock), context)


def test_registry_is_38s():
    assert set(PRIMARY_NAMES) == set(NAMES_38)
    for primary, aliases in NAMES_38.items():
        for name in (primary, *aliases):
            assert COMMANDS[name].primary_name == primary
    assert set(COMMANDS) == set(ALL_NAMES)


def test_not_serving_and_unknown():
    w = _view()
    w.zks.running = False
    no_server = {"environment", "get_trace_mask", "monitor", "set_trace_mask", "system_properties", "zabstate"}
    for name in NAMES_38:
        resp = run_command(name, w, {"traceMask": "1"})
        if name in no_server:
            assert resp.error is None and resp.command == name, name
        else:
            assert resp.to_map() == {"command": name, "error": ZK_NOT_SERVING}, name
    assert run_command("crst", w).command == "crst"  # the name asked for, as 3.8
    assert run_command("x y", w).to_map() == {"command": "x y", "error": "Unknown command: x y"}


def test_set_trace_mask_parses_as_long_parselong():
    w = _view()
    for text, ok in (("12", 12), ("+7", 7), ("-9223372036854775808", -(1 << 63)), ("0x1", None), ("", None)):
        data = run_command("stmk", w, {"traceMask": text}).to_map()
        if ok is None:
            assert data["error"] == f"setTraceMask requires long traceMask argument, got {text}"
        else:
            assert data["tracemask"] == ok == w.trace_mask and data["error"] is None
    assert run_command("stmk", w, {"traceMask": "9223372036854775808"}).to_map()["error"].startswith("setTrace")


def test_response_map_order_as_38():
    assert list(CommandResponse("leader", None, {"error": "e"}).to_map().items()) == [
        ("error", "e"),
        ("command", "leader"),
    ]
    assert list(CommandResponse("x", None, {"a": 1}).to_map()) == ["a", "command", "error"]


def test_json_as_jackson_indents_it():
    value = {
        "connections": [{"a": 1, "b": [1, 2]}, {"c": {}}],
        "secure_connections": [],
        "m": {7: ["/p"]},
        "f": 2.75,
        "z": 0.0,
        "tiny": 1e-4,
        "s": 'q"\\\n\x01é',
        "n": None,
        "t": True,
    }
    assert to_json(value) == (
        "{\n"
        '  "connections" : [ {\n'
        '    "a" : 1,\n'
        '    "b" : [ 1, 2 ]\n'
        "  }, {\n"
        '    "c" : { }\n'
        "  } ],\n"
        '  "secure_connections" : [ ],\n'
        '  "m" : {\n'
        '    "7" : [ "/p" ]\n'
        "  },\n"
        '  "f" : 2.75,\n'
        '  "z" : 0.0,\n'
        '  "tiny" : 1.0E-4,\n'
        '  "s" : "q\\"\\\\\\n\\u0001é",\n'
        '  "n" : null,\n'
        '  "t" : true\n'
        "}"
    )
    assert to_json({}) == "{ }"


class _FakePeer:
    """A leader as a quorum service would describe itself (QuorumAdmin)."""

    myid = 2

    def is_leader(self):
        return True

    def leader_id(self):
        return 2

    def leader_address(self):
        return "127.0.0.1"

    def zab_state(self):
        return "broadcast"

    def quorum_address(self):
        return "127.0.0.1:2888"

    def election_address(self):
        return "127.0.0.1:3888"

    def client_address(self):
        return "127.0.0.1:2181"

    def is_voting(self):
        return True

    def voting_view(self):
        view = {"server_addresses": ["127.0.0.1:2888"], "election_addresses": ["127.0.0.1:3888"]}
        return {2: {**view, "client_address": "127.0.0.1:2181", "learner_type": "participant"}}

    def observers(self):
        return 0, []

    def reset_observer_stats(self):
        self.reset = True

    def proposal_stats(self):
        return {"last_buffer_size": 5, "min_buffer_size": 5, "max_buffer_size": 5}


def test_quorum_fields_come_from_the_peer():
    """The keys 3.8's LeaderCommand / ZabStateCommand / VotingViewCommand / SrvrCommand put
    for a leader, read from the service's ``quorum`` object."""
    peer = _FakePeer()
    w = _view(type("Ctx", (), {"quorum": peer, "server_state": "leader"})())
    w.zks.db.tree.last_processed_zxid = (3 << 32) | 7
    assert run_command("leader", w).to_map() == {
        "is_leader": True, "leader_id": 2, "leader_ip": "127.0.0.1", "command": "leader", "error": None,
    }  # fmt: skip
    zab = run_command("zabstate", w).to_map()
    assert list(zab) == [
        "myid", "is_leader", "quorum_address", "election_address", "client_address", "voting", "last_zxid",
        "zab_epoch", "zab_counter", "zabstate", "command", "error",
    ]  # fmt: skip
    assert (zab["last_zxid"], zab["zab_epoch"], zab["zab_counter"]) == ("0x300000007", 3, 7)
    view = run_command("voting_view", w).to_map()["current_config"]
    assert list(view[2]) == ["server_addresses", "election_addresses", "client_address", "learner_type"]
    srvr = run_command("srvr", w).to_map()
    assert list(srvr)[:5] == ["version", "read_only", "server_stats", "client_response", "proposal_stats"]
    assert srvr["server_stats"]["server_state"] == "leader"
    assert run_command("obsr", w).to_map()["synced_observers"] == 0
    run_command("orst", w)
    assert peer.reset
