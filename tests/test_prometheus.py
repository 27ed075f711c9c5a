"""metricsProvider.className=...PrometheusMetricsProvider: GET /metrics from a real twistd server.

Scraped over HTTP from our server, parsed with prometheus_client's own parser; every metric
``mntr`` reports must be there under ZooKeeper 3.8's name and type, the figures must move
with load, and the provider's start-up failure must match 3.8's (it refuses to start).
"""

from __future__ import annotations

import os
import socket
import urllib.request
from contextlib import closing

import pytest
from kazoo.client import KazooClient
from prometheus_client.parser import text_string_to_metric_families
from zkharness import ZKProcess, four_letter, free_port

from zk_twisted.network import fourletter as fl
from zk_twisted.network.prometheus import ZooKeeperCollector, generate_004

PROMETHEUS = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"


def prometheus_extra(port: int, **more) -> dict:
    return {
        "metricsProvider.className": PROMETHEUS,
        "metricsProvider.httpHost": "127.0.0.1",
        "metricsProvider.httpPort": str(port),
        **more,
    }


def scrape(port: int, query: str = "") -> tuple[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics{query}", timeout=10) as r:
        return r.headers.get("Content-Type"), r.read().decode("utf-8")


def families(port: int) -> dict:
    _, text = scrape(port)
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams: dict, family: str, sample: str | None = None, **labels) -> float:
    if sample is None and fams[family].type == "counter":
        sample = family + "_total"  # the parser's OpenMetrics naming of a 0.0.4 counter sample
    for s in fams[family].samples:
        if s.name == (sample or family) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError(f"{sample or family} {labels} not in {family}")


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    http = free_port()
    server = ZKProcess(tmp_path_factory.mktemp("prom"), extra=prometheus_extra(http)).start()
    server.http_port = http
    yield server
    server.stop()


def mntr_pairs(port: int) -> list[tuple[str, str]]:
    out = []
    for line in four_letter(port, "mntr").splitlines():
        k, _, v = line.partition("\t")
        out.append((k[3:], v))  # strip zk_
    return out


def _quota_and_reads(hosts: str) -> None:
    with closing(KazooClient(hosts)) as kz:
        kz.start()
        # a quota, so the per-namespace gauge sets have a key
        kz.ensure_path("/cmp")
        kz.ensure_path("/zookeeper/quota/cmp")
        kz.create("/zookeeper/quota/cmp/zookeeper_limits", b"count=10,bytes=-1")
        kz.create("/zookeeper/quota/cmp/zookeeper_stats", b"count=1,bytes=0")
        kz.get("/cmp")
        kz.stop()


def test_every_mntr_metric_is_exported_under_38s_name_and_type(prom, zk_factory):
    # mntr's keys from a server with the default provider (with Prometheus on, 3.8's mntr
    # prints the Prometheus samples instead), the same script run on both
    plain = zk_factory()
    _quota_and_reads(plain.hosts)
    _quota_and_reads(prom.hosts)
    pairs = mntr_pairs(plain.port)
    content_type, text = scrape(prom.http_port)
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    summaries = set(fl.BASIC_SUMMARIES) | set(fl.ADVANCED_SUMMARIES)
    checked = 0
    for key, _ in pairs:
        if key in ("version", "server_state"):
            continue  # dumpMonitorValues' two non-metrics
        quota = next((q for q in fl.QUOTA_GAUGE_SETS if key.endswith("_" + q)), None)
        if quota is not None:
            ns = key[: -len(quota) - 1]
            assert fams[quota].type == "gauge"
            assert ns in {s.labels["key"] for s in fams[quota].samples}, key
        elif key in fl.GAUGES:
            assert fams[key].type == "gauge", key
        elif key in fl.COUNTERS:
            assert fams[key].type == "counter", key
            # 3.8's simpleclient 0.9.0 names the counter sample as the family: no _total
            assert f"\n{key} " in text and f"{key}_total" not in text, key
        else:
            stat, _, name = key.partition("_")
            assert stat in ("avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999"), key
            assert name in summaries, key
            assert fams[name].type == "summary", key
            names = {s.name for s in fams[name].samples}
            assert {name + "_count", name + "_sum"} <= names, key
            quantiles = {s.labels.get("quantile") for s in fams[name].samples if s.name == name}
            want = {"0.5", "0.9", "0.99"} if name in fl.ADVANCED_SUMMARIES else {"0.5"}
            assert quantiles == want, key
        checked += 1
    assert checked > 150  # mntr's whole list was walked, not an empty answer
    assert value(fams, "quota_count_limit_per_namespace", key="cmp") == 10
    # 3.8's labelled sets, empty until a key is used, still have their family
    assert fams["write_per_namespace"].type == "summary"
    # exportJvmInfo (default true): process_* under the names Java's StandardExports uses
    assert "process_cpu_seconds_total" in text and "process_resident_memory_bytes" in text


def test_mntr_prints_the_prometheus_dump_as_38(prom):
    # MonitorCommand: dumpMonitorValues, then PrometheusMetricsProvider.dump: every sample
    # keyed name{labels} (no trailing comma), its value a double
    pairs = dict(mntr_pairs(prom.port))
    assert list(pairs)[:2] == ["version", "server_state"]
    assert pairs["server_state"] == "standalone"
    assert float(pairs["znode_count"]) >= 4 and pairs["znode_count"].endswith(".0")
    assert pairs["proposal_count"] == "0.0"
    assert 'readlatency{quantile="0.5"}' in pairs and "readlatency_count" in pairs
    assert "avg_latency" in pairs and "avg_readlatency" not in pairs  # no DefaultMetricsProvider keys
    assert "process_cpu_seconds_total" in pairs


def test_values_move_with_load(prom):
    before = families(prom.http_port)
    n = 40
    with closing(KazooClient(prom.hosts)) as kz:
        kz.start()
        kz.ensure_path("/load")
        for i in range(n):
            kz.create(f"/load/n{i}", b"x" * 10)
        for i in range(n):
            kz.get(f"/load/n{i}")
        during = families(prom.http_port)
        kz.stop()
    assert value(during, "znode_count") - value(before, "znode_count") == n + 1
    assert value(during, "num_alive_connections") >= 1
    assert value(during, "packets_received") - value(before, "packets_received") >= 2 * n
    assert value(during, "connection_request_count") - value(before, "connection_request_count") >= 1
    assert value(during, "updatelatency", "updatelatency_count") - value(
        before, "updatelatency", "updatelatency_count"
    ) >= n
    assert value(during, "readlatency", "readlatency_count") - value(
        before, "readlatency", "readlatency_count"
    ) >= n
    # reads were measured: the quantiles are numbers now, not NaN
    assert value(during, "readlatency", quantile="0.99") >= 0
    assert value(during, "fsynctime", "fsynctime_count") > value(before, "fsynctime", "fsynctime_count")
    assert value(during, "approximate_data_size") - value(before, "approximate_data_size") >= n * 10


def test_srst_resets_gauges_but_not_counters_and_summaries(prom):
    with closing(KazooClient(prom.hosts)) as kz:
        kz.start()
        kz.get("/")
        kz.stop()
    before = families(prom.http_port)
    assert four_letter(prom.port, "srst") == "Server stats reset.\n"
    after = families(prom.http_port)
    # ServerStats' figures (gauges) reset, as in 3.8; its Prometheus provider ignores resetAll
    assert value(after, "packets_received") < value(before, "packets_received")
    for fam, sample in (("readlatency", "readlatency_count"), ("connection_request_count", None)):
        assert value(after, fam, sample) >= value(before, fam, sample) > 0


def test_name_filter_and_only_metrics_path(prom):
    _, text = scrape(prom.http_port, "?name[]=znode_count&name[]=readlatency_count")
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(fams) == {"znode_count", "readlatency"}
    assert [s.name for s in fams["readlatency"].samples] == ["readlatency_count"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{prom.http_port}/other", timeout=10)
    assert e.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{prom.http_port}/metrics/more", timeout=10)
    assert e.value.code == 404


def test_export_jvm_info_false_leaves_process_metrics_out(tmp_path):
    http = free_port()
    server = ZKProcess(tmp_path / "zk", extra=prometheus_extra(http, **{"metricsProvider.exportJvmInfo": "false"}))
    server.start()
    try:
        fams = families(http)
    finally:
        server.stop()
    assert "znode_count" in fams
    assert not [n for n in fams if n.startswith(("process_", "python_"))]


def test_metrics_port_in_use_stops_startup_as_38(tmp_path):
    # 3.8: PrometheusMetricsProvider.start throws, runFromConfig -> IOException "Cannot boot
    # MetricsProvider", main logs "Unexpected exception, exiting abnormally" and exits 1
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        http = taken.getsockname()[1]
        server = ZKProcess(tmp_path / "zk", extra=prometheus_extra(http))
        server.start(wait=False)
        try:
            rc = server.proc.wait(60)
        finally:
            server.kill()
    assert rc == 1
    log = server.log()
    assert "Cannot boot MetricsProvider " + PROMETHEUS in log
    assert four_letter(server.port, "ruok", timeout=1) == ""  # it never served


def listening_ports(pid: int) -> set[int]:
    """TCP ports the process listens on (its socket inodes matched in /proc/net/tcp{,6})."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:  # state LISTEN
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def test_only_the_prometheus_provider_opens_a_metrics_port(prom, zk_factory):
    plain = zk_factory()
    assert listening_ports(plain.proc.pid) == {plain.port}
    assert listening_ports(prom.proc.pid) == {prom.port, prom.http_port}


# ---------------------------------------------------------------------- the text format
class _Words:
    """Enough of FourLetterWords for the collector: no server attached."""

    zks = None


def test_text_format_is_simpleclient_0_9():
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

    class Fixed:
        def collect(self):
            c = Metric("proposal_count", "proposal_count", "counter")
            c.add_sample("proposal_count", {}, 3.0)
            yield c
            g = Metric("quota_bytes_limit_per_namespace", "quota_bytes_limit_per_namespace", "gauge")
            g.add_sample("quota_bytes_limit_per_namespace", {"key": 'a"b'}, 1e7)
            yield g

    reg = CollectorRegistry(auto_describe=False)
    reg.register(Fixed())
    reg.register(ZooKeeperCollector(_Words()))  # unattached: yields nothing
    assert generate_004(reg).decode() == (
        "# HELP proposal_count proposal_count\n"
        "# TYPE proposal_count counter\n"
        "proposal_count 3.0\n"
        "# HELP quota_bytes_limit_per_namespace quota_bytes_limit_per_namespace\n"
        "# TYPE quota_bytes_limit_per_namespace gauge\n"
        'quota_bytes_limit_per_namespace{key="a\\"b",} 1.0E7\n'
    )
