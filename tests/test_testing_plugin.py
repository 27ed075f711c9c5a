"""The pytest plugin and context manager for client test suites (zk_twisted.testing).

A project in a temp dir (pytester) that only has zk_twisted and kazoo installed uses the
``zk_server`` fixture and passes; its failing test carries the server's log in its report.
"""

from __future__ import annotations

import os
import unittest
from pathlib import Path

from kazoo.client import KazooClient

from zk_twisted.testing import ServerStartError, four_letter, server

pytest_plugins = ["pytester"]

PROJECT_TEST = '''
from kazoo.client import KazooClient

def test_create_and_read(zk_server):
    zk = KazooClient(hosts=zk_server.hosts)
    zk.start()
    zk.create("/app", b"hello")
    assert zk.get("/app")[0] == b"hello"
    zk.stop()

def test_each_test_gets_a_fresh_server(zk_server):
    zk = KazooClient(hosts=zk_server.hosts)
    zk.start()
    assert zk.exists("/app") is None
    zk.stop()
'''


def readme_example(index: int = 0) -> str:
    """A kazoo test the README shows (the ``index``-th python block after its testing
    heading), with the import it assumes."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = text[text.index("## Testing client code") :]
    block = section.split("```python\n")[index + 1].split("```", 1)[0]
    return block if "import" in block else "from kazoo.client import KazooClient\n\n" + block


def test_a_project_uses_zk_server_with_kazoo(pytester):
    # a project of its own, and the README's example verbatim
    pytester.makepyfile(test_client=PROJECT_TEST, test_readme=readme_example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


SPARE_TEST = """
import os

from kazoo.client import KazooClient

def _use(zk_server, request, name):
    zk = KazooClient(hosts=zk_server.hosts)
    zk.start()
    assert zk.get_children("/") == ["zookeeper"]  # fresh: nothing from the other tests
    zk.create("/" + name)
    zk.stop()
    pool = request.getfixturevalue("_zk_server_pool")
    # the next test's server is already starting, in a directory of its own
    assert pool.spare is not None and pool.spare.alive() and pool.spare.base != zk_server.base
    with open(os.environ["PIDS"], "a") as f:
        f.write(f"{zk_server.proc.pid} {pool.spare.proc.pid}\\n")

def test_one(zk_server, request):
    _use(zk_server, request, "one")

def test_two(zk_server, request):
    _use(zk_server, request, "two")
"""


def test_the_next_server_starts_while_a_test_runs_and_none_outlives_the_session(pytester, monkeypatch):
    pids = pytester.path / "pids"
    monkeypatch.setenv("PIDS", str(pids))
    pytester.makepyfile(test_spare=SPARE_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    (used1, spare1), (used2, spare2) = (map(int, line.split()) for line in pids.read_text().splitlines())
    assert used2 == spare1  # test two got the server started during test one
    for pid in (used1, used2, spare2):
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in _state(pid)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/status") as f:
            return f.read().lower()
    except OSError:
        return "zombie"


def test_config_override_and_a_failing_tests_report_has_the_log(pytester):
    pytester.makeconftest(
        """
import pytest

@pytest.fixture
def zk_server_config():
    return {"maxSessionTimeout": "12345"}
"""
    )
    pytester.makepyfile(
        test_conf="""
from zk_twisted.testing import four_letter

def test_conf(zk_server):
    assert "maxSessionTimeout=12345" in four_letter(zk_server.port, "conf")

def test_fails(zk_server):
    assert zk_server.hosts.startswith("127.0.0.1:")
    assert False, "on purpose"
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*zk_server 127.0.0.1:* log*", "*zk_twisted standalone serving on*"])


def test_this_suites_zk_server_is_the_plugins(zk_server):
    # tests/conftest.py only overrides zk_server_config: extended types on
    assert zk_server.log_path.parent.name.startswith("zk_server")
    assert "extendedTypesEnabled=true" in zk_server.cfg_path.read_text()
    assert four_letter(zk_server.port, "ruok") == "imok"


class ContextManagerUnderUnittest(unittest.TestCase):
    def test_server_context_manager(self):
        with server() as srv:
            zk = KazooClient(hosts=srv.hosts)
            zk.start()
            zk.create("/x", b"1")
            self.assertEqual(zk.get("/x")[0], b"1")
            zk.stop()
            base = srv.base
        self.assertFalse(srv.alive())
        self.assertFalse(base.exists())  # its temp dir is gone
        self.assertEqual(four_letter(srv.port, "ruok", timeout=1), "")


ENSEMBLE_TEST = """
from kazoo.client import KazooClient

def test_leader_killed_and_restarted(zk_ensemble):
    zk = KazooClient(hosts=zk_ensemble.hosts, command_retry={"max_tries": -1, "max_delay": 1, "deadline": 60})
    zk.start()
    zk.create("/job", b"1")
    old = zk_ensemble.leader()
    assert sorted(zk_ensemble.mode(s) for s in zk_ensemble.sids) == ["follower", "follower", "leader"]
    zk_ensemble.kill(old)
    zk.retry(zk.set, "/job", b"2")
    assert zk_ensemble.leader() != old
    zk_ensemble.restart(old)
    back = KazooClient(hosts=zk_ensemble.members[old].hosts)
    back.start()
    back.sync("/")
    assert back.get("/job")[0] == b"2" and zk_ensemble.mode(old) == "follower"
    back.stop()
    zk.stop()

def test_fails(zk_ensemble):
    assert False
"""


def test_a_project_uses_zk_ensemble_and_a_failing_report_has_every_members_log(pytester):
    pytester.makepyfile(test_ensemble=ENSEMBLE_TEST, test_readme_ensemble=readme_example(1))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert out.count("zk_server 127.0.0.1:") >= 3 and "LEADING" in out


def test_a_port_taken_before_the_server_binds_it_is_replaced(tmp_path, monkeypatch):
    import socket

    from zk_twisted.testing import process

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        ports = iter([taken.getsockname()[1]])
        real = process.free_port
        monkeypatch.setattr(process, "free_port", lambda host="127.0.0.1": next(ports, None) or real(host))
        srv = process.ServerProcess(tmp_path / "zk")
        assert srv.port == taken.getsockname()[1]
        try:
            srv.start()
            assert srv.port != taken.getsockname()[1]
            assert four_letter(srv.port, "ruok") == "imok"
            assert "Address already in use" in srv.log()  # the first launch's error, kept
        finally:
            srv.stop()


def test_a_bad_config_fails_start_with_the_log(tmp_path):
    try:
        with server({"tickTime": "nope"}, base=str(tmp_path)):
            raise AssertionError("started")
    except ServerStartError as e:
        assert "exited with 2" in str(e) and "tickTime" in str(e)
