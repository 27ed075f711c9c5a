"""Test client code against a real ZooKeeper 3.8 compatible server, no JVM needed.

::

    from zk_twisted.testing import server

    with server() as srv:                 # unittest, scripts, any runner
        zk = KazooClient(srv.hosts)

With pytest the ``zk_server`` fixture does the same per test (installed with zk_twisted,
entry point ``pytest11``; see :mod:`zk_twisted.testing.pytest_plugin`).  Each server is a
real ``twistd zkserver`` process on a free loopback port with its data in a temporary
directory, removed afterwards.  A 3-node ``zk_ensemble`` comes once zk_twisted runs
ensembles (it will start one :class:`ServerProcess` per node).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from .process import ServerProcess, ServerStartError, four_letter, free_port

__all__ = ["ServerProcess", "ServerStartError", "four_letter", "free_port", "server"]


@contextmanager
def server(config: dict | None = None, base: str | None = None, timeout: float = 30.0) -> Iterator[ServerProcess]:
    """A fresh standalone server while the block runs; ``config``: extra zoo.cfg keys.

    ``base``: where its zoo.cfg, data and log go (default: a temporary directory, removed
    afterwards unless given)."""
    owned = base is None
    where = tempfile.mkdtemp(prefix="zk_twisted-") if owned else base
    srv = ServerProcess(where, config)
    try:
        srv.start(timeout)
        yield srv
    finally:
        srv.stop()
        if owned:
            shutil.rmtree(where, ignore_errors=True)
