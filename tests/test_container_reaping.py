"""``znode.container.maxNeverUsedIntervalMs``: a container that never had a child is reaped
once it is older than this, side by side with Java ZooKeeper 3.8 (a JVM property there,
zoo.cfg or a JVM property for us).  Without the setting such a container stays forever
(test_compat_kazoo checks that)."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient
from kazoo.security import OPEN_ACL_UNSAFE
from kazoo_ext import CreateContainer, call
from zkharness import server_pair, wait_for

CHECK_MS = 200
NEVER_USED_MS = 1000
PROPS = {
    "znode.container.checkIntervalMs": str(CHECK_MS),
    "znode.container.maxNeverUsedIntervalMs": str(NEVER_USED_MS),
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with server_pair(
        tmp_path_factory,
        {"maxClientCnxns": "0"},
        jvmflags=" ".join(f"-D{k}={v}" for k, v in PROPS.items()),
        ours_extra=PROPS,
    ) as pair:
        yield pair


def test_never_used_container_is_reaped(servers):
    for name, server in servers.items():
        zk = KazooClient(server.hosts, timeout=10)
        zk.start(timeout=30)
        try:
            call(zk, CreateContainer("/unused", b"", OPEN_ACL_UNSAFE))
            assert zk.exists("/unused") is not None
            # bounded wait for the reaper (several check periods past the interval), no timing assert
            wait_for(lambda zk=zk: zk.exists("/unused") is None, 30, what=f"{name} to reap /unused")
        finally:
            zk.stop()
            zk.close()
