"""``twistd zkserver``: command-line options and makeService (the plugin is one line)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from twisted.python import usage

from .config import ConfigError, ZKConfig, jvm_property_use, load_config
from .jvmflags import read_jvm_flags

log = logging.getLogger(__name__)


class Options(usage.Options):
    synopsis = "[-c zoo.cfg]"
    longdesc = (
        "Run a ZooKeeper 3.8 compatible server (standalone when zoo.cfg has no server.N lines). "
        "Java system properties (-Dname=value) are read as zkServer.sh passes them: from "
        "SERVER_JVMFLAGS and JVMFLAGS, and from java.env / zookeeper-env.sh in $ZOOCFGDIR "
        "(default: the directory of zoo.cfg), which are parsed, not executed."
    )
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


def load_server_config(config_path: str, environ: Mapping[str, str]) -> ZKConfig:
    """zoo.cfg plus the -D properties zkServer.sh would pass (SERVER_JVMFLAGS, JVMFLAGS,
    ZOOCFGDIR/java.env), each property logged with where it came from and what it does."""
    flags = read_jvm_flags(environ, config_path)
    for path in flags.files:
        log.info("Read JVM flags from %s (parsed, not executed)", path)
    for w in flags.warnings:
        log.warning("%s", w)
    try:
        cfg = load_config(config_path, jvm_properties=flags.properties)
    except ConfigError as e:
        name = (e.key or "")[2:]
        if (e.key or "").startswith("-D") and name in flags.sources:
            raise ConfigError(
                f"{e.message} (from {flags.sources[name]})", key=e.key, value=e.value, exit_code=e.exit_code
            ) from None
        raise
    for name, value in flags.properties.items():
        _, what = jvm_property_use(cfg, name)
        log.info("System property %s=%s from %s: %s", name, value, flags.sources[name], what)
    if flags.other_options:
        log.info(
            "JVM options accepted but not acted on: %s",
            ", ".join(f"{w} ({src})" for w, src in flags.other_options),
        )
    return cfg


def makeService(options: Options):
    setup_logging(options["loglevel"])
    try:
        cfg = load_server_config(options["config"], os.environ)
    except ConfigError as e:
        # twistd itself would exit 0 on a usage error; a bad zoo.cfg must exit 2, as 3.8 does
        print(f"{e}, exiting abnormally", file=sys.stderr)
        raise SystemExit(e.exit_code) from None
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
    if cfg.is_standalone:
        return StandaloneServer(cfg, reactor, opened=opened, metrics_provider=metrics_provider)
    from .network.election_port import create_election
    from .quorum.peer import QuorumPeer
    from .quorum.roles import role_for

    return QuorumPeer(cfg, reactor, opened, create_election, role_for, metrics_provider=metrics_provider)


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
