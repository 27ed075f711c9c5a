"""Shared fixtures: a zk_twisted server per test, Java ZooKeeper 3.8 per module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zkharness import JavaZK, ZKProcess  # noqa: E402


@pytest.fixture
def zk_server_config():
    """``zk_server`` is the fixture of our pytest plugin (zk_twisted.testing.pytest_plugin):
    here with extended types on, as our shipped config."""
    return {"extendedTypesEnabled": "true"}


@pytest.fixture
def zk_factory(tmp_path):
    """Make servers with custom zoo.cfg keys: ``zk_factory(extra={...}, name='a')``."""
    made: list[ZKProcess] = []

    def make(extra: dict | None = None, name: str = "zk", start: bool = True, **kw) -> ZKProcess:
        server = ZKProcess(tmp_path / name, extra=extra, **kw)
        made.append(server)
        return server.start() if start else server

    yield make
    for s in made:
        s.stop()


@pytest.fixture(scope="module")
def java_zk(tmp_path_factory):
    """Java ZooKeeper 3.8 standalone on a loopback port, for side-by-side comparisons."""
    server = JavaZK(
        tmp_path_factory.mktemp("javazk"),
        extra={"extendedTypesEnabled": "true", "maxClientCnxns": "0"},
    ).start()
    yield server
    server.stop()
