"""``twistd zkserver``: command-line options and makeService (the plugin is one line)."""

from __future__ import annotations

import logging
import sys

from twisted.python import usage

from .config import ConfigError, load_config


class Options(usage.Options):
    synopsis = "[-c zoo.cfg]"
    longdesc = "Run a ZooKeeper 3.8 compatible server (standalone when zoo.cfg has no server.N lines)."
    optParameters = [
        ["config", "c", "conf/zoo.cfg", "Path of the zoo.cfg file"],
        ["loglevel", "l", "INFO", "Python log level (DEBUG, INFO, WARNING, ...)"],
    ]


def setup_logging(level: str) -> None:
    """ZooKeeper-style log lines on stderr; twistd keeps its own log for its messages."""
    root = logging.getLogger()
    if not any(getattr(h, "_zk_twisted", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._zk_twisted = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(name)s - %(message)s"))
        root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


def makeService(options: Options):
    setup_logging(options["loglevel"])
    try:
        cfg = load_config(options["config"])
    except ConfigError as e:
        # twistd itself would exit 0 on a usage error; a bad zoo.cfg must exit 2, as 3.8 does
        print(f"{e}, exiting abnormally", file=sys.stderr)
        raise SystemExit(e.exit_code) from None
    if not cfg.is_standalone:
        print("quorum mode (server.N lines) is not implemented yet in zk_twisted", file=sys.stderr)
        raise SystemExit(2)
    from twisted.internet import reactor

    from .gcpolicy import apply_server_gc_policy, freeze_restored_heap
    from .persistence.storage import StorageError, open_storage
    from .service import StandaloneServer

    apply_server_gc_policy()
    metrics_provider = start_metrics_provider(cfg, reactor)
    try:
        # 3.8 loads its database before it serves: a damaged data dir stops start-up here
        opened = open_storage(cfg, reactor)
    except StorageError as e:
        print(f"Unable to load database on disk, exiting abnormally: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    freeze_restored_heap()
    return StandaloneServer(cfg, reactor, opened=opened, metrics_provider=metrics_provider)


def start_metrics_provider(cfg, reactor):
    """MetricsProviderBootstrap: 3.8 starts the provider first; one that cannot start stops it."""
    from .config import PROMETHEUS_METRICS_PROVIDER

    if cfg.metrics_provider_class_name != PROMETHEUS_METRICS_PROVIDER:
        return None
    from twisted.internet.error import CannotListenError

    from .network.metrics_http import PrometheusMetricsProvider, PrometheusSettings

    provider = PrometheusMetricsProvider(PrometheusSettings.from_properties(cfg.metrics_provider_configuration))
    try:
        provider.start(reactor)
    except CannotListenError as e:
        # 3.8: "Cannot boot MetricsProvider ...", then "Unexpected exception, exiting abnormally" (1)
        print(f"Cannot boot MetricsProvider {cfg.metrics_provider_class_name}: {e.socketError}", file=sys.stderr)
        print("Unexpected exception, exiting abnormally", file=sys.stderr)
        raise SystemExit(1) from None
    return provider
