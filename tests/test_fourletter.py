"""Four-letter words: format line by line, 3.8's whitelist, and side by side with Java 3.8.

Real sockets against a running zk_twisted (one server shared by the module, plus two small
ones for the whitelist), and the same kazoo script against Java ZooKeeper 3.8 to check that
both print the same keys and line shapes.  The formatting helpers are also tested in-process.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import sys
from pathlib import Path

import pytest
from twisted.internet.task import Clock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zkharness import ZKProcess, four_letter  # noqa: E402

from zk_twisted.network.fourletter import (  # noqa: E402
    COMMANDS,
    ZK_NOT_SERVING,
    FourLetterWords,
    java_address,
    java_date,
    java_double,
    monitor_values,
    parse_whitelist,
)
from zk_twisted.server.metrics import Summary  # noqa: E402
from zk_twisted.server.zkdatabase import ZKDatabase  # noqa: E402
from zk_twisted.server.zkserver import ServerSettings, ZooKeeperServer  # noqa: E402

kazoo_client = pytest.importorskip("kazoo.client")
KazooClient = kazoo_client.KazooClient

ENVI_KEYS = [
    "zookeeper.version", "host.name", "java.version", "java.vendor", "java.home", "java.class.path",
    "java.library.path", "java.io.tmpdir", "java.compiler", "os.name", "os.arch", "os.version",
    "user.name", "user.home", "user.dir", "os.memory.free", "os.memory.max", "os.memory.total",
]  # fmt: skip
CONF_KEYS = [
    "clientPort", "secureClientPort", "dataDir", "dataDirSize", "dataLogDir", "dataLogSize", "tickTime",
    "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout", "clientPortListenBacklog", "serverId",
]  # fmt: skip
#: mntr keys every monitoring tool reads: these must be there
MNTR_CORE = [
    "version", "server_state", "avg_latency", "max_latency", "min_latency", "packets_received",
    "packets_sent", "num_alive_connections", "outstanding_requests", "znode_count", "watch_count",
    "ephemerals_count", "approximate_data_size", "open_file_descriptor_count", "max_file_descriptor_count",
    "uptime", "global_sessions", "local_sessions", "last_client_response_size", "min_client_response_size",
    "max_client_response_size", "avg_readlatency", "p99_readlatency", "avg_updatelatency", "cnt_updatelatency",
]  # fmt: skip

SRVR_LINES = [
    r"Zookeeper version: 3\.8\.\d+-\S*, built on .+",
    r"Latency min/avg/max: \d+/\d+\.\d+(E-?\d+)?/\d+",
    r"Received: \d+",
    r"Sent: \d+",
    r"Connections: \d+",
    r"Outstanding: \d+",
    r"Zxid: 0x[0-9a-f]+",
    r"Mode: standalone",
    r"Node count: \d+",
]
ADDR = r"/\d+\.\d+\.\d+\.\d+:\d+"
BRIEF_CNXN = rf" {ADDR}\[[0-9a-f]+\]\(queued=\d+,recved=\d+,sent=\d+\)"
FULL_CNXN = (
    rf" {ADDR}\[[0-9a-f]+\]\(queued=\d+,recved=\d+,sent=\d+,sid=0x[0-9a-f]+,lop=[A-Z]+,est=\d+,to=\d+"
    r"(,lcxid=0x[0-9a-f]+)?,lzxid=0x[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)"
)
DATE = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \d{4}"


def raw_word(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes on a fresh connection; return all the server says before it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            chunks.append(d)
    return b"".join(chunks)


def assert_lines(text: str, patterns: list[str]) -> None:
    lines = text.split("\n")
    assert lines[-1] == "", f"answer must end with a newline: {text!r}"
    assert len(lines) - 1 == len(patterns), text
    for line, pat in zip(lines, patterns, strict=False):
        assert re.fullmatch(pat, line), f"{line!r} !~ {pat!r}"


def shape(line: str) -> str:
    """A line with its values blanked: what must be equal between Java 3.8 and us."""
    line = re.sub(r"Zookeeper version: .*", "Zookeeper version: V", line)
    line = re.sub(ADDR, "ADDR", line)
    line = re.sub(DATE, "DATE", line)
    line = re.sub(r"0x[0-9a-f]+", "HEX", line)
    line = re.sub(r"(?<![\w:])/[A-Za-z][\w/.-]*", "PATH", line)
    line = re.sub(r"lop=[A-Z]+", "lop=OP", line)
    line = re.sub(r"(?<![A-Za-z_])-?\d+(\.\d+)?(E-?\d+)?", "N", line)
    return line


def shapes(text: str) -> set[str]:
    return {shape(line) for line in text.split("\n")}


def keys(text: str, sep: str) -> list[str]:
    return [line.split(sep, 1)[0] for line in text.splitlines() if sep in line]


# ---------------------------------------------------------------------- servers
@pytest.fixture(scope="module")
def zk(tmp_path_factory):
    """The module's zk_twisted, every word allowed."""
    server = ZKProcess(tmp_path_factory.mktemp("fourletter"), extra={"4lw.commands.whitelist": "*"}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(zk):
    kz = KazooClient(hosts=zk.hosts, timeout=30)
    kz.start(timeout=15)
    yield kz
    kz.stop()
    kz.close()


class _DefaultWhitelistZK(ZKProcess):
    """zoo.cfg without 4lw.commands.whitelist: 3.8's default (srvr only)."""

    def config_lines(self) -> list[str]:
        return [line for line in super().config_lines() if not line.startswith("4lw.commands.whitelist=")]


@pytest.fixture(scope="module")
def whitelist_servers(tmp_path_factory):
    base = tmp_path_factory.mktemp("whitelist")
    default = _DefaultWhitelistZK(base / "default")
    listed = ZKProcess(base / "listed", extra={"4lw.commands.whitelist": " stat, ruok ,,mntr"})
    for s in (default, listed):
        s.start(wait=False)
    try:
        for s in (default, listed):
            _wait_srvr(s)
        yield default, listed
    finally:
        for s in (default, listed):
            s.stop()


def _wait_srvr(server: ZKProcess, timeout: float = 30.0) -> None:
    """'ruok' may be refused here: wait on 'srvr', which 3.8 always allows."""
    from zkharness import wait_for

    def ready() -> bool:
        if server.proc is not None and server.proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{server.log()}")
        return four_letter(server.port, "srvr", timeout=1.0).startswith("Zookeeper version:")

    wait_for(ready, timeout, what=f"zk_twisted on {server.port}")


# ---------------------------------------------------------------------- each word, real socket
def test_ruok_isro_gtmk(zk):
    assert four_letter(zk.port, "ruok") == "imok"
    assert four_letter(zk.port, "isro") == "rw"
    assert four_letter(zk.port, "gtmk") == "306"


def test_stmk_sets_the_trace_mask(zk):
    assert raw_word(zk.port, b"stmk" + struct.pack(">q", 0x1FF)) == b"511"
    assert four_letter(zk.port, "gtmk") == "511"
    assert raw_word(zk.port, b"stmk" + struct.pack(">q", 306)) == b"306"
    assert raw_word(zk.port, b"stmk") == b""  # no mask: 3.8 drops the connection


def test_srvr_and_stat_format(zk, client):
    assert_lines(four_letter(zk.port, "srvr"), SRVR_LINES)
    stat = four_letter(zk.port, "stat").split("\n")
    assert re.fullmatch(SRVR_LINES[0], stat[0]) and stat[1] == "Clients:"
    blank = stat.index("", 2)
    clients = stat[2:blank]
    assert clients and all(re.fullmatch(BRIEF_CNXN, c) for c in clients), clients
    # the asking connection is listed too, its one packet being the word, not readable any more
    assert any(re.fullmatch(rf" {ADDR}\[0\]\(queued=0,recved=1,sent=0\)", c) for c in clients)
    assert_lines("\n".join(stat[blank + 1 :]), SRVR_LINES[1:])


def test_cons_lists_a_kazoo_connection(zk, client):
    client.exists("/")
    sid = f"0x{client.client_id[0]:x}"
    text = four_letter(zk.port, "cons")
    assert text.endswith("\n\n")
    lines = text[:-2].split("\n")
    mine = [line for line in lines if f"sid={sid}," in line]
    assert len(mine) == 1, text
    assert re.fullmatch(FULL_CNXN, mine[0]), mine[0]
    assert ",lop=EXIS," in mine[0] and ",to=30000," in mine[0]
    for line in lines:
        assert re.fullmatch(FULL_CNXN, line) or re.fullmatch(BRIEF_CNXN, line), line


def test_crst_resets_connection_stats(zk, client):
    client.get("/")
    assert four_letter(zk.port, "crst") == "Connection stats reset.\n"
    sid = f"0x{client.client_id[0]:x}"
    line = next(x for x in four_letter(zk.port, "cons").split("\n") if f"sid={sid}," in x)
    # a ping may slip in between; nothing else does
    assert re.search(r"recved=[01],sent=[01],", line), line
    if "recved=0" in line:
        assert ",lop=NA," in line and "lcxid" not in line and ",lzxid=0xffffffffffffffff,lresp=0," in line


def test_srst_resets_server_stats(zk, client):
    for _ in range(3):
        client.get("/")
    assert four_letter(zk.port, "srst") == "Server stats reset.\n"
    srvr = four_letter(zk.port, "srvr")
    received = int(re.search(r"Received: (\d+)", srvr).group(1))
    sent = int(re.search(r"Sent: (\d+)", srvr).group(1))
    assert received <= 2 and sent <= 1, srvr  # the srvr itself (and at most a ping)
    mntr = dict(line.split("\t", 1) for line in four_letter(zk.port, "mntr").splitlines())
    assert int(mntr["zk_cnt_readlatency"]) <= 1


def test_watch_words_show_a_kazoo_watch(zk, client):
    client.ensure_path("/fl/watched")
    client.get("/fl/watched", watch=lambda event: None)
    sid = f"0x{client.client_id[0]:x}"
    wchc = four_letter(zk.port, "wchc")
    assert f"{sid}\n" in wchc and "\t/fl/watched\n" in wchc and wchc.endswith("\n\n")
    wchp = four_letter(zk.port, "wchp")
    assert f"/fl/watched\n\t{sid}\n" in wchp and wchp.endswith("\n\n")
    wchs = four_letter(zk.port, "wchs")
    assert_lines(wchs, [r"\d+ connections watching \d+ paths", r"Total watches:\d+"])
    n_cnxn, n_paths = map(int, re.findall(r"\d+", wchs.split("\n")[0]))
    assert n_cnxn >= 1 and n_paths >= 1


def test_dump_shows_ephemerals_by_session(zk, client):
    client.ensure_path("/fl")
    path = client.create("/fl/eph", b"", ephemeral=True, sequence=True)
    sid = f"0x{client.client_id[0]:x}"
    text = four_letter(zk.port, "dump")
    lines = text.split("\n")
    assert lines[0] == "SessionTracker dump:"
    assert re.fullmatch(r"Session Sets \(\d+\)/\(\d+\):", lines[1])
    i = lines.index("ephemeral nodes dump:")
    assert re.fullmatch(r"Sessions with Ephemerals \(\d+\):", lines[i + 1])
    j = lines.index(f"{sid}:")
    assert f"\t{path}" in lines[j + 1 : lines.index("Connections dump:")]
    k = lines.index("Connections dump:")
    assert re.fullmatch(r"Connections Sets \(\d+\)/\(\d+\):", lines[k + 1])
    assert any(re.fullmatch(rf"\tip: {ADDR} sessionId: {sid}", x) for x in lines[k:])
    for x in lines[2:i] + lines[k + 2 : -1]:
        assert re.fullmatch(rf"\d+ expire at {DATE}:|\t0x[0-9a-f]+|\tip: {ADDR} sessionId: 0x[0-9a-f]+", x), x
    client.delete(path)


def test_envi_keys_and_kazoo_server_version(zk, client):
    text = four_letter(zk.port, "envi")
    assert text.startswith("Environment:\n")
    assert keys(text, "=") == ENVI_KEYS
    env = dict(line.split("=", 1) for line in text.splitlines()[1:])
    assert env["zookeeper.version"].startswith("3.8.")
    assert re.fullmatch(r"\d+MB", env["os.memory.max"])
    assert client.server_version() == (3, 8, 0)


def test_conf_and_dirs(zk):
    text = four_letter(zk.port, "conf")
    assert keys(text, "=") == CONF_KEYS
    conf = dict(line.split("=", 1) for line in text.splitlines())
    assert conf["clientPort"] == str(zk.port)
    assert conf["dataDir"] == os.path.abspath(zk.data_dir / "version-2")
    assert conf["serverId"] == "0" and conf["secureClientPort"] == "-1"
    assert_lines(four_letter(zk.port, "dirs"), [r"datadir_size: \d+", r"logdir_size: \d+"])


def test_mntr_format(zk, client):
    client.ensure_path("/fl")
    text = four_letter(zk.port, "mntr")
    pairs = [line.split("\t") for line in text.splitlines()]
    assert all(len(p) == 2 and p[0].startswith("zk_") for p in pairs), text
    values = dict(pairs)
    for k in MNTR_CORE:
        assert f"zk_{k}" in values, k
    assert values["zk_server_state"] == "standalone"
    assert values["zk_version"].startswith("3.8.")
    for k, v in values.items():
        if k not in ("zk_version", "zk_server_state"):
            assert re.fullmatch(r"-?\d+(\.\d+)?(E-?\d+)?", v), (k, v)
    assert int(values["zk_num_alive_connections"]) >= 2  # kazoo + this word
    assert int(values["zk_znode_count"]) >= 6


def test_hash_every_128th_zxid(zk, client):
    client.ensure_path("/fl/hash")
    results = [client.create_async("/fl/hash/n", b"", sequence=True) for _ in range(130)]
    for r in results:
        r.get(timeout=10)
    text = four_letter(zk.port, "hash")
    assert text and all(re.fullmatch(r"[0-9a-f]+: -?\d+", line) for line in text.splitlines()), text
    assert all(int(line.split(":")[0], 16) % 128 == 0 for line in text.splitlines())


def test_unknown_prefixes_are_not_words(zk):
    assert raw_word(zk.port, b"xxxx") == b""
    assert raw_word(zk.port, b"RUOK") == b""
    assert raw_word(zk.port, b"\xff\xf4\xff\xfd") == b""  # telnet close, allowed by '*': just closed


# ---------------------------------------------------------------------- whitelist
REFUSED = "{} is not executed because it is not in the whitelist.\n"


def test_default_whitelist_is_srvr_only(whitelist_servers):
    default, _ = whitelist_servers
    assert_lines(four_letter(default.port, "srvr"), SRVR_LINES)
    for word in sorted(set(COMMANDS) - {"srvr"}):
        assert four_letter(default.port, word) == REFUSED.format(word), word
    assert raw_word(default.port, b"\xff\xf4\xff\xfd") == REFUSED.format("telnet close").encode()


def test_explicit_whitelist(whitelist_servers):
    _, listed = whitelist_servers
    assert four_letter(listed.port, "ruok") == "imok"
    assert four_letter(listed.port, "stat").startswith("Zookeeper version:")
    assert four_letter(listed.port, "mntr").startswith("zk_version\t")
    assert four_letter(listed.port, "srvr").startswith("Zookeeper version:")  # always on
    for word in ("conf", "cons", "envi", "dump", "wchc", "isro", "stmk"):
        assert four_letter(listed.port, word) == REFUSED.format(word)


# ---------------------------------------------------------------------- side by side with Java 3.8
def _scripted_words(hosts: str, port: int) -> dict[str, str]:
    """The same kazoo session on either server, then every word's answer."""
    kz = KazooClient(hosts=hosts, timeout=30)
    kz.start(timeout=15)
    try:
        kz.ensure_path("/cmp/child")
        kz.create("/cmp/eph", b"x", ephemeral=True)
        kz.get("/cmp", watch=lambda e: None)
        kz.exists("/cmp/child", watch=lambda e: None)
        kz.get_children("/cmp", watch=lambda e: None)
        kz.ensure_path("/zookeeper/quota/cmp")  # what zkCli's setquota -n 10 /cmp writes
        kz.create("/zookeeper/quota/cmp/zookeeper_limits", b"count=10,bytes=-1")
        kz.create("/zookeeper/quota/cmp/zookeeper_stats", b"count=0,bytes=0")
        kz.create("/cmp/data", b"hello")
        out = {w: four_letter(port, w) for w in COMMANDS if w not in ("stmk", "crst", "srst")}
        out["stmk"] = raw_word(port, b"stmk" + struct.pack(">q", 306)).decode()
        out["crst"] = four_letter(port, "crst")
        out["srst"] = four_letter(port, "srst")
        return out
    finally:
        kz.stop()
        kz.close()


def test_same_keys_and_shapes_as_java(zk, java_zk):
    ours = _scripted_words(zk.hosts, zk.port)
    java = _scripted_words(java_zk.hosts, java_zk.port)
    for w in ("ruok", "isro", "gtmk", "stmk", "crst", "srst"):
        assert ours[w] == java[w], (w, ours[w], java[w])
    for text in (ours["hash"], java["hash"]):  # our zxid is past 0x80 by now, Java's not
        assert all(re.fullmatch(r"[0-9a-f]+: -?\d+", line) for line in text.splitlines()), text
    for w in ("srvr", "dirs", "wchs"):
        assert [shape(x) for x in ours[w].split("\n")] == [shape(x) for x in java[w].split("\n")], w
    for w in ("stat", "cons", "dump", "wchc", "wchp"):
        assert shapes(ours[w]) == shapes(java[w]), (w, ours[w], java[w])
    assert keys(ours["conf"], "=") == keys(java["conf"], "=") == CONF_KEYS
    assert keys(ours["envi"], "=") == keys(java["envi"], "=") == ENVI_KEYS
    assert ours["envi"].split("\n")[0] == java["envi"].split("\n")[0] == "Environment:"
    # mntr: ours is 3.8's list minus what we cannot measure, in 3.8's order
    java_keys = [k for k in keys(java["mntr"], "\t") if not re.search(r"_(read|write)_per_namespace$", k)]
    our_keys = keys(ours["mntr"], "\t")
    assert set(our_keys) <= set(java_keys), sorted(set(our_keys) - set(java_keys))
    assert our_keys == [k for k in java_keys if k in set(our_keys)]
    quota = sorted(line for line in ours["mntr"].splitlines() if "_quota_" in line)
    assert quota == sorted(line for line in java["mntr"].splitlines() if "_quota_" in line)
    assert len(quota) == 4


# ---------------------------------------------------------------------- formatting, in process
def _server() -> ZooKeeperServer:
    clock = Clock()
    clock.advance(1_700_000_000)
    return ZooKeeperServer(ServerSettings(), ZKDatabase(), clock)


def test_parse_whitelist():
    assert parse_whitelist(None) == {"srvr"}
    assert parse_whitelist("") == {"srvr"}
    assert parse_whitelist(" stat , ruok,, ") == {"stat", "ruok", "srvr"}
    everything = parse_whitelist("ruok, *")
    assert set(COMMANDS) | {"telnet close"} == everything
    assert parse_whitelist(["conf"]) == {"conf", "srvr"}


def test_java_formatting():
    assert java_double(0.0) == "0.0"
    assert java_double(2.5385) == "2.5385"
    assert java_double(15.0) == "15.0"
    assert java_double(0.0001) == "1.0E-4"
    assert java_double(12345678.0) == "1.2345678E7"
    assert java_address("127.0.0.1", 5) == "/127.0.0.1:5"
    assert java_address("::ffff:10.0.0.1", 6) == "/10.0.0.1:6"
    assert java_address("::1", 7) == "/[0:0:0:0:0:0:0:1]:7"
    assert re.fullmatch(DATE, java_date(1_700_000_000_000))


def test_summary_like_38():
    s = Summary("x", percentiles=True)
    assert [v for _, v in s.values()] == [0.0, 0, 0, 0, 0, 0, 0, 0, 0]
    for v in range(1, 101):
        s.add(v)
    vals = dict(s.values())
    assert vals["avg_x"] == 50.5 and vals["min_x"] == 1 and vals["max_x"] == 100 and vals["cnt_x"] == 100
    assert vals["p50_x"] == 51 and vals["p99_x"] == 100


def test_words_when_not_serving():
    zks = _server()
    zks.running = False
    w = FourLetterWords(zks, "*")
    for word in (
        "srvr",
        "stat",
        "conf",
        "cons",
        "crst",
        "dirs",
        "dump",
        "mntr",
        "srst",
        "wchs",
        "wchc",
        "wchp",
    ):
        assert w.answer(word) == ZK_NOT_SERVING + "\n", word
    assert w.answer("hash") == ZK_NOT_SERVING
    assert w.answer("isro") == "null"
    assert w.answer("ruok") == "imok"
    assert w.answer("envi").startswith("Environment:\n")


class _FakeSync:
    """A sync stage publishing the storage counters the brief names."""

    def __init__(self) -> None:
        self.fsync_count = 4
        self.fsync_time_ms_total = 10.4  # the real one keeps fractional ms
        self.txns_logged = 9


def test_mntr_reads_storage_counters_and_srst_resets_them():
    zks = _server()
    zks.sync = _FakeSync()
    w = FourLetterWords(zks, "*")
    vals = dict(monitor_values(w))
    assert (vals["avg_fsynctime"], vals["cnt_fsynctime"], vals["sum_fsynctime"]) == (2.6, 4, 10)
    assert "min_fsynctime" not in vals  # not measured: left out, not faked
    w.answer("srst")
    zks.sync.fsync_count += 1
    zks.sync.fsync_time_ms_total += 3
    vals = dict(monitor_values(w))
    assert (vals["cnt_fsynctime"], vals["sum_fsynctime"]) == (1, 3)
    assert "zk_sum_fsynctime\t3\n" in w.answer("mntr")


def test_mntr_without_storage_omits_fsync():
    vals = dict(monitor_values(FourLetterWords(_server(), "*")))
    assert "cnt_fsynctime" not in vals and "bytes_received_count" not in vals
    assert vals["version"].startswith("3.8.")
    assert vals["server_state"] == "standalone" and vals["proposal_count"] == 0


def test_hash_lists_the_digest_log():
    zks = _server()
    zks.db.digest_log.append((0x80, -5))
    assert FourLetterWords(zks, "*").answer("hash") == "80: -5\n"
