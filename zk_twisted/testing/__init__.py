"""Test client code against a real ZooKeeper 3.8 compatible server, no JVM needed.

::

    from zk_twisted.testing import server

    with server() as srv:                 # unittest, scripts, any runner
        zk = KazooClient(srv.hosts)

With pytest the ``zk_server`` fixture does the same per test (installed with zk_twisted,
entry point ``pytest11``; see :mod:`zk_twisted.testing.pytest_plugin`).  Each server is a
real ``twistd zkserver`` process on a free loopback port with its data in a temporary
directory, removed afterwards.  :func:`ensemble` and the ``zk_ensemble`` fixture start
a 3-member ensemble (:class:`Ensemble`, one :class:`ServerProcess` per member) for code
that must see a leader die or a member come back.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from .ensemble import Ensemble
from .process import ServerProcess, ServerStartError, four_letter, free_port

__all__ = ["Ensemble", "ServerProcess", "ServerStartError", "ensemble", "four_letter", "free_port", "server"]


@contextmanager
def _directory(base: str | None, prefix: str) -> Iterator[str]:
    """``base``, or a temporary directory removed afterwards."""
    if base is not None:
        yield base
        return
    where = tempfile.mkdtemp(prefix=prefix)
    try:
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


@contextmanager
def server(config: dict | None = None, base: str | None = None, timeout: float = 30.0) -> Iterator[ServerProcess]:
    """A fresh standalone server while the block runs; ``config``: extra zoo.cfg keys.

    ``base``: where its zoo.cfg, data and log go (default: a temporary directory, removed
    afterwards unless given)."""
    with _directory(base, "zk_twisted-") as where:
        srv = ServerProcess(where, config)
        try:
            srv.start(timeout)
            yield srv
        finally:
            srv.stop()


@contextmanager
def ensemble(
    size: int = 3, config: dict | None = None, base: str | None = None, timeout: float = 60.0
) -> Iterator[Ensemble]:
    """A fresh ensemble of ``size`` members, serving, while the block runs (``config``:
    extra zoo.cfg keys of every member; ``base`` as for :func:`server`)."""
    with _directory(base, "zk_twisted-ensemble-") as where:
        ens = Ensemble(where, size, config)
        try:
            ens.start(timeout)
            yield ens
        finally:
            ens.stop()
