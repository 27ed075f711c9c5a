"""pytest fixtures (entry point ``pytest11``, so installing zk_twisted is enough).

* ``zk_server``: a fresh standalone server per test (:class:`ServerProcess`: ``.hosts``,
  ``.port``, ``.stop()``, ``.kill()``, ``.restart()``, ``.log()``), its data and log in a
  directory of its own under the session's temp dir.  A failing test's report gets the
  server's log as a section.
* ``zk_server_config``: the extra zoo.cfg keys of ``zk_server`` (``{}``); override it in a
  conftest.py or a test module to change them.

While a test runs, the server for the next one is already starting (one spare, launched
once the current one serves, for the same config), so a suite waits for start-up once
rather than once per test.  ``--zk-server-no-spare`` turns that off.

* ``zk_ensemble``: a fresh 3-member ensemble per test (:class:`Ensemble`: ``.hosts`` of
  every member, ``.leader()``, ``.mode(sid)``, ``.kill(sid)``, ``.stop(sid)``,
  ``.restart(sid)``, ``.members[sid]``), started and serving; its members' logs go into a
  failing test's report.  ``zk_ensemble_config``: its extra zoo.cfg keys (``{}``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .ensemble import Ensemble
from .process import ServerProcess

_SERVERS = pytest.StashKey[list]()


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--zk-server-no-spare",
        action="store_true",
        help="zk_twisted: start each zk_server only when its test asks (no server starting ahead)",
    )


class ServerPool:
    """Hands out started servers; keeps at most one spare starting for the next test."""

    def __init__(self, base: Path, spare: bool = True) -> None:
        self.base = base
        self.keep_spare = spare
        self.spare: ServerProcess | None = None
        self.made = 0

    def _launch(self, config: dict) -> ServerProcess:
        self.made += 1
        return ServerProcess(self.base / f"zk_server{self.made}", config).launch()

    def take(self, config: dict) -> ServerProcess:
        srv, self.spare = self.spare, None
        if srv is not None and srv.config != config:
            srv.stop()
            srv = None
        if srv is None:
            srv = self._launch(config)
        srv.finish_start()
        if self.keep_spare:
            self.spare = self._launch(dict(config))
        return srv

    def close(self) -> None:
        if self.spare is not None:
            self.spare.stop()
            self.spare = None


@pytest.fixture(scope="session")
def _zk_server_pool(request, tmp_path_factory):
    pool = ServerPool(tmp_path_factory.mktemp("zk_servers"), not request.config.getoption("--zk-server-no-spare"))
    yield pool
    pool.close()


@pytest.fixture
def zk_server_config() -> dict:
    """Extra zoo.cfg keys for ``zk_server`` (override to change)."""
    return {}


@pytest.fixture
def zk_server(request, zk_server_config, _zk_server_pool) -> ServerProcess:
    """A running standalone zk_twisted server for this test, fresh (no data); stopped afterwards."""
    srv = _zk_server_pool.take(dict(zk_server_config))
    request.node.stash.setdefault(_SERVERS, []).append(srv)
    yield srv
    srv.stop()


@pytest.fixture
def zk_ensemble_config() -> dict:
    """Extra zoo.cfg keys for every member of ``zk_ensemble`` (override to change)."""
    return {}


@pytest.fixture
def zk_ensemble(request, zk_ensemble_config, tmp_path_factory) -> Ensemble:
    """A running 3-member zk_twisted ensemble for this test, fresh; stopped afterwards."""
    ens = Ensemble(tmp_path_factory.mktemp("zk_ensemble"), 3, dict(zk_ensemble_config))
    request.node.stash.setdefault(_SERVERS, []).extend(ens.members.values())
    try:
        ens.start()
        yield ens
    finally:
        ens.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for srv in item.stash.get(_SERVERS, []):
            report.sections.append((f"zk_server {srv.hosts} log", srv.log() or "(empty)"))
