"""pytest fixtures (entry point ``pytest11``, so installing zk_twisted is enough).

* ``zk_server``: a fresh standalone server per test (:class:`ServerProcess`: ``.hosts``,
  ``.port``, ``.stop()``, ``.kill()``, ``.restart()``, ``.log()``); its data and log live in
  the test's ``tmp_path``.  A failing test's report gets the server's log as a section.
* ``zk_server_config``: the extra zoo.cfg keys of ``zk_server`` (``{}``); override it in a
  conftest.py or a test module to change them.

Reserved for later: ``zk_ensemble`` (3 nodes, ``kill(n)`` / ``restart(n)`` /
``partition(...)``), once zk_twisted runs ensembles.
"""

from __future__ import annotations

import pytest

from .process import ServerProcess

_SERVERS = pytest.StashKey[list]()


@pytest.fixture
def zk_server_config() -> dict:
    """Extra zoo.cfg keys for ``zk_server`` (override to change)."""
    return {}


@pytest.fixture
def zk_server(request, tmp_path, zk_server_config) -> ServerProcess:
    """A running standalone zk_twisted server for this test; stopped afterwards."""
    srv = ServerProcess(tmp_path / "zk_server", zk_server_config)
    request.node.stash.setdefault(_SERVERS, []).append(srv)
    srv.start()
    yield srv
    srv.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for srv in item.stash.get(_SERVERS, []):
            report.sections.append((f"zk_server {srv.hosts} log", srv.log() or "(empty)"))
