"""``metricsProvider.className=...PrometheusMetricsProvider``: ``GET /metrics`` on twisted.web.

As 3.8's provider: ``metricsProvider.httpHost`` (default 0.0.0.0), ``httpPort`` (7000),
``exportJvmInfo`` (true); only ``/metrics`` is served (GET or POST, ``name[]`` filters),
always in text format 0.0.4.  The port is bound before the database loads, as 3.8 starts its
provider first; a port that cannot be bound stops start-up (3.8: "Cannot boot
MetricsProvider", exit 1).  Scrapes are rendered on the reactor thread, so the collector
reads the server's state between two events, never while it changes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from twisted.web import resource, server

from .prometheus import CONTENT_TYPE_004, ZooKeeperCollector, dump_samples, generate_004, make_registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrometheusSettings:
    host: str = "0.0.0.0"
    port: int = 7000
    export_jvm_info: bool = True

    @classmethod
    def from_properties(cls, props) -> PrometheusSettings:
        """PrometheusMetricsProvider.configure; raises ValueError naming the bad key."""
        port_text = props.get("httpPort", "7000")
        if not re.fullmatch(r"[+-]?[0-9]+", port_text):  # Integer.parseInt
            raise ValueError(f"metricsProvider.httpPort={port_text} is not a number")
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError(f"metricsProvider.httpPort={port_text} is out of range")
        return cls(
            host=props.get("httpHost", "0.0.0.0"),
            port=port,
            # Boolean.parseBoolean: "true" in any case is true, anything else false
            export_jvm_info=props.get("exportJvmInfo", "true").lower() == "true",
        )


class MetricsPage(resource.Resource):
    """MetricsServlet: the registry's families in text format 0.0.4."""

    isLeaf = True

    def __init__(self, provider: PrometheusMetricsProvider) -> None:
        super().__init__()
        self.provider = provider

    def render_GET(self, request) -> bytes:
        if any(request.postpath):  # the servlet is mapped at /metrics exactly
            return resource.NoResource().render(request)
        names = [n.decode("utf-8", "replace") for n in request.args.get(b"name[]", [])]
        body = generate_004(self.provider.registry, names)
        request.setHeader(b"content-type", CONTENT_TYPE_004.encode())
        return body

    render_POST = render_GET


class PrometheusMetricsProvider:
    """Bind with :meth:`start`, attach the server's figures with :meth:`attach`."""

    def __init__(self, settings: PrometheusSettings) -> None:
        self.settings = settings
        self.collector = ZooKeeperCollector(None)
        self.registry = make_registry(self.collector, settings.export_jvm_info)
        self.port = None

    def start(self, reactor) -> None:
        """Listen now (raises twisted.internet.error.CannotListenError)."""
        s = self.settings
        log.info(
            "Starting /metrics HTTP endpoint at host: %s, port: %d, exportJvmInfo: %s",
            s.host, s.port, str(s.export_jvm_info).lower(),
        )  # fmt: skip
        root = resource.Resource()
        root.putChild(b"metrics", MetricsPage(self))
        site = server.Site(root)
        site.noisy = False
        site.log = lambda request: None  # no access log per scrape, as Jetty's default
        self.port = reactor.listenTCP(s.port, site, interface=s.host)

    def attach(self, words) -> None:
        """From now on the server's metrics are exported (3.8: ZooKeeperServer registers them)."""
        self.collector.words = words

    def dump(self) -> list[tuple[str, float]]:
        """PrometheusMetricsProvider.dump, what 3.8's mntr prints after version and server_state:
        every sample of the registry as ``name{label="v",...}`` -> its double."""
        return dump_samples(self.registry)

    def stop(self):
        if self.port is not None:
            port, self.port = self.port, None
            return port.stopListening()
        return None
