"""ZooKeeper 3.8's metrics as Prometheus families, and the text format 3.8's provider writes.

3.8's PrometheusMetricsProvider registers every metric of ServerMetrics (counters, BASIC
summaries with the 0.5 quantile, ADVANCED ones with 0.5 / 0.9 / 0.99, labelled sets keyed
``key``) plus the gauges ZooKeeperServer registers, and serves them with Prometheus'
simpleclient 0.9.0.  Here one :class:`ZooKeeperCollector` reads the live figures when
scraped -- the same ones ``mntr`` prints, through the same functions, so nothing on the
request path counts twice -- and yields ``prometheus_client`` metric families.

Differences that follow from what we keep (documented, not hidden):

* Quantiles come from each summary's uniform reservoir of 4096 samples since the last
  'srst' (mntr's p50..p999 source), not from a 10-minute sliding window; count and sum run
  on across 'srst', as 3.8's Prometheus summaries (its provider ignores resetAll).
* Metrics ``mntr`` leaves out because we do not measure them are left out here too.

Sans-IO: no Twisted import, no socket; :mod:`zk_twisted.network.metrics_http` serves it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ..admin import monitor as mon
from ..admin.view import ServerView
from ..server.metrics import Summary
from ..tools.javafmt import java_double

#: quantiles (and simpleclient's label text for them) by detail level
BASIC_QUANTILES = ((0.5, "0.5"),)
ADVANCED_QUANTILES = ((0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99"))
#: ServerMetrics' labelled sets: name -> (type, advanced); unlabelled children never exist
#: until a key is used, so simpleclient prints only their HELP and TYPE lines
LABELLED_SETS = (
    ("write_per_namespace", "summary"),
    ("read_per_namespace", "summary"),
    ("learner_handler_qp_size", "summary"),
    ("learner_handler_qp_time_ms", "summary"),
    ("ack_latency", "summary"),
    ("quota_exceeded_error_per_namespace", "counter"),
)
LABEL = "key"
CONTENT_TYPE_004 = "text/plain; version=0.0.4; charset=utf-8"


def _family(name: str, typ: str) -> Metric:
    # 3.8 builds every metric with help == name
    return Metric(name, name, typ)


class ZooKeeperCollector(Collector):
    """The figures of one server (through its :class:`FourLetterWords`), read at each scrape."""

    def __init__(self, words: ServerView | None) -> None:
        self.words = words

    def collect(self) -> Iterator[Metric]:
        w = self.words
        if w is None or w.zks is None:  # not attached yet: the server is still loading
            return
        standalone = w.server_state() == "standalone"
        gauges = mon.all_gauges(w)
        for name in mon.GAUGES:
            if name in gauges:
                m = _family(name, "gauge")
                m.add_sample(name, {}, float(gauges[name]))
                yield m
        for name, by_ns in mon.quota_gauge_sets(w).items():
            m = _family(name, "gauge")
            for ns, v in sorted(by_ns.items()):
                m.add_sample(name, {LABEL: ns}, float(v))
            yield m
        counters = self._counters()
        for name in mon.COUNTERS:
            if name in counters or (standalone and name in mon.STANDALONE_ZERO):
                m = _family(name, "counter")
                # simpleclient 0.9.0 names the sample as the family: no _total suffix
                m.add_sample(name, {}, float(counters.get(name, 0)))
                yield m
        summaries = self._summaries()
        for names, quantiles in ((mon.BASIC_SUMMARIES, BASIC_QUANTILES), (mon.ADVANCED_SUMMARIES, ADVANCED_QUANTILES)):
            for name in names:
                if name in summaries:
                    yield _summary(name, quantiles, *summaries[name])
                elif standalone and name in mon.STANDALONE_ZERO:
                    yield _summary(name, quantiles, 0, 0, None)
        for name, typ in LABELLED_SETS:
            yield _family(name, typ)

    def _counters(self) -> dict[str, float]:
        """Counters since start (3.8's Prometheus counters never reset; mntr subtracts 'srst')."""
        s = self.words.zks.stats
        raw = mon._raw_counters(self.words)
        out: dict[str, float] = {"digest_mismatches_count": raw["digest_mismatches_count"]}
        if hasattr(s, "connection_requests"):
            out["connection_request_count"] = s.connection_requests + s.connection_requests_carried
        if hasattr(s, "sessions_expired"):
            out["stale_sessions_expired"] = s.sessions_expired + s.sessions_expired_carried
        return out

    def _summaries(self) -> dict[str, tuple[int, float, Summary | None]]:
        """name -> (count, sum, the Summary for quantiles or None)."""
        w = self.words
        s = w.zks.stats
        found: list[Summary] = [x for x in (s.read_latency, s.update_latency) if isinstance(x, Summary)]
        for src in w.metric_sources():
            found.extend(v for v in (getattr(src, "metrics", None) or {}).values() if isinstance(v, Summary))
        out: dict[str, tuple[int, float, Summary | None]] = {}
        for summary in found:
            out.setdefault(summary.name, (summary.lifetime_count, summary.lifetime_total, summary))
        if "fsynctime" not in out:
            raw = mon._raw_counters(w)
            if "fsync_count" in raw and "fsync_time_ms_total" in raw:
                out["fsynctime"] = (int(raw["fsync_count"]), float(raw["fsync_time_ms_total"]), None)
        return out


def _summary(name: str, quantiles, count: int, total: float, source: Summary | None) -> Metric:
    m = _family(name, "summary")
    if source is not None and source.has_samples():
        values = source.quantiles([q for q, _ in quantiles])
    else:
        values = [math.nan] * len(quantiles)  # CKMS with no observation in its window: NaN
    for (_, text), v in zip(quantiles, values, strict=True):
        m.add_sample(name, {"quantile": text}, float(v))
    m.add_sample(name + "_count", {}, float(count))
    m.add_sample(name + "_sum", {}, float(total))
    return m


# ---------------------------------------------------------------------- the text format
def _go_double(v: float) -> str:
    """simpleclient's Collector.doubleToGoString: +Inf / -Inf / NaN, else Double.toString."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return java_double(float(v))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_TYPES = {"counter": "counter", "gauge": "gauge", "summary": "summary", "histogram": "histogram"}


def generate_004(registry: CollectorRegistry | Collector, names: Iterable[str] = ()) -> bytes:
    """Text format 0.0.4 as simpleclient 0.9.0's TextFormat.write004 writes it.

    prometheus_client's own ``generate_latest`` renames every counter ``<name>_total``;
    3.8's counters are ``proposal_count``, not ``proposal_count_total``, and dashboards query
    those names, so the families are written here as 3.8 writes them.  ``names`` is the
    ``name[]`` filter of MetricsServlet: keep only those samples (and families that keep any).
    """
    wanted = frozenset(names)
    out: list[str] = []
    for metric in registry.collect():
        samples = [s for s in metric.samples if not s.name.endswith("_created")]
        if wanted:
            samples = [s for s in samples if s.name in wanted]
            if not samples:
                continue
        header = metric.name
        if metric.type == "counter" and samples and all(s.name == header + "_total" for s in samples):
            header += "_total"  # prometheus_client's own counters (process_cpu_seconds_total)
        out.append(f"# HELP {header} {_escape_help(metric.documentation)}\n")
        out.append(f"# TYPE {header} {_TYPES.get(metric.type, 'untyped')}\n")
        for s in samples:
            if s.labels:
                labels = "".join(f'{k}="{_escape_label(str(v))}",' for k, v in s.labels.items())
                out.append(f"{s.name}{{{labels}}} {_go_double(s.value)}\n")
            else:
                out.append(f"{s.name} {_go_double(s.value)}\n")
    return "".join(out).encode("utf-8")


def dump_samples(registry: CollectorRegistry | Collector) -> list[tuple[str, float]]:
    """Every sample as 3.8's PrometheusMetricsProvider.dump keys it (buildKeyForDump: no
    trailing comma, unlike the text format)."""
    out: list[tuple[str, float]] = []
    for metric in registry.collect():
        for s in metric.samples:
            if s.name.endswith("_created"):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in s.labels.items())
            out.append((f"{s.name}{{{labels}}}" if labels else s.name, float(s.value)))
    return out


def make_registry(collector: ZooKeeperCollector, export_jvm_info: bool = True) -> CollectorRegistry:
    """A registry of this server's metrics; ``exportJvmInfo`` adds what this runtime has in
    place of simpleclient_hotspot's: process_* (the same names as Java's StandardExports),
    python_info and python_gc_* (the JVM's jvm_* have no Python counterpart)."""
    from prometheus_client import GCCollector, PlatformCollector, ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    if export_jvm_info:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return registry
