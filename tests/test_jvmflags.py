"""Java system properties the way zkServer.sh passes them: SERVER_JVMFLAGS, JVMFLAGS, java.env.

Start scripts and client test harnesses written for Java ZooKeeper 3.8 set its property-only
switches there (``-Dzookeeper.extendedTypesEnabled=true``, a super digest, ``-Djute.maxbuffer``).
The env-file parser is checked against bash sourcing the same file; ``twistd zkserver`` is
checked against Java 3.8 started from the same environment, with its flags computed by bash
exactly as 3.8's zkEnv.sh / zkServer.sh compute them (source ZOOCFGDIR's zookeeper-env.sh and
java.env, then ``JVMFLAGS="$SERVER_JVMFLAGS $JVMFLAGS"``, expanded unquoted).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import subprocess
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl
from kazoo_ext import CreateTTL, Script, assert_same, call
from zkharness import JVM_ENV, JavaZK, ZKProcess

from zk_twisted.config import ConfigError
from zk_twisted.jvmflags import parse_env_file, read_jvm_flags, split_words
from zk_twisted.tap import load_server_config


def bash_jvmflags(environ: dict, confdir: Path | None = None) -> str:
    """What 3.8's scripts hand the JVM: env files sourced by a real shell, then the flags."""
    env = {k: v for k, v in os.environ.items() if k not in JVM_ENV}
    env.update(environ)
    env["ZOOCFGDIR"] = str(confdir) if confdir else environ.get("ZOOCFGDIR", "/nonexistent")
    script = (
        'for f in zookeeper-env.sh java.env; do [ -f "$ZOOCFGDIR/$f" ] && . "$ZOOCFGDIR/$f"; done; '
        '[ "x$SERVER_JVMFLAGS" != "x" ] && JVMFLAGS="$SERVER_JVMFLAGS $JVMFLAGS"; '
        'printf "%s" "$JVMFLAGS"'
    )
    r = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def bash_vars(text: str, environ: dict, names: list[str], tmp_path: Path) -> dict:
    f = tmp_path / "java.env"
    f.write_text(text)
    out = {}
    for n in names:
        r = subprocess.run(
            ["bash", "-c", f'. "$0" >/dev/null; printf "%s" "${n}"', str(f)],
            env={"PATH": os.environ["PATH"], **environ},
            capture_output=True,
            text=True,
            timeout=30,
        )
        out[n] = r.stdout
    return out


# ------------------------------------------------------------------------ the env files
ENV_FILES = {
    "plain": 'SERVER_JVMFLAGS="-Dzookeeper.extendedTypesEnabled=true"\n',
    "export and append": (
        "# java.env\n"
        'export JVMFLAGS="-Xmx512m $JVMFLAGS"\n'
        'SERVER_JVMFLAGS="$SERVER_JVMFLAGS -Dzookeeper.snapCount=10"   # more\n'
        "export SERVER_JVMFLAGS\n"
    ),
    "quotes and escapes": (
        "SERVER_JVMFLAGS='-Da=$NOT '-Db=\"${HOME:-x}\"\\ y\n"
        "JVMFLAGS=-Dc=1\\\n-Dd=2; X=${UNSET:-dflt} Y=$X\n"
        'JVMFLAGS="$JVMFLAGS -Dx=$X -Dy=${Y}"\n'
    ),
    "multi-line value": 'SERVER_JVMFLAGS="-Da=1\n  -Db=2"\n',
    "commands are skipped": 'echo hello $JVMFLAGS\nA=1 true\nJVMFLAGS="-Dk=$A"\n',
    "append": 'JVMFLAGS+=" -Dx=1"\nexport SERVER_JVMFLAGS+=-Dy=2 \n   ',
}


@pytest.mark.parametrize("name", list(ENV_FILES))
def test_env_file_parsing_agrees_with_bash(name, tmp_path):
    text = ENV_FILES[name]
    environ = {"SERVER_JVMFLAGS": "-Dfrom.env=1", "JVMFLAGS": "-Dj=0", "HOME": "/home/z"}
    ours, _ = parse_env_file(text, "java.env", environ)
    names = ["SERVER_JVMFLAGS", "JVMFLAGS"]
    theirs = bash_vars(text, environ, names, tmp_path)
    assert {n: ours.get(n, "") for n in names} == theirs


def test_env_file_constructs_that_need_a_shell(tmp_path):
    (tmp_path / "zoo.cfg").write_text(f"dataDir={tmp_path}/data\nclientPort=2181\n")
    (tmp_path / "java.env").write_text("LOGDIR=$(pwd)/logs\n")
    flags = read_jvm_flags({}, tmp_path / "zoo.cfg")  # not the flags: skipped, with a warning
    assert flags.properties == {} and "java.env line 1" in flags.warnings[0]
    for text in (
        'SERVER_JVMFLAGS="-Dzookeeper.x=`hostname`"\n',
        "\n[ -n $X ] && JVMFLAGS=-Dy\n",
        "\nunset JVMFLAGS\n",
    ):
        (tmp_path / "java.env").write_text(text)
        with pytest.raises(ConfigError) as e:
            read_jvm_flags({}, tmp_path / "zoo.cfg")
        line = text[: text.index("FLAGS")].count("\n") + 1
        assert f"java.env line {line}" in str(e.value) and e.value.exit_code == 2


def test_split_words():
    assert split_words("-Xmx1g  '-Dx=a b' -Dy=\\\"q -Dz=\"1 2\"\n-De=") == [
        "-Xmx1g", "-Dx=a b", '-Dy="q', "-Dz=1 2", "-De=",
    ]  # fmt: skip


def test_precedence_and_sources(tmp_path, caplog):
    """JVMFLAGS comes after SERVER_JVMFLAGS on java's command line, and the JVM keeps the last
    -D of a name; java.env (in ZOOCFGDIR, else next to zoo.cfg) can rewrite both; a zoo.cfg
    key wins over -Dzookeeper.<key> (3.8 sets it with System.setProperty after start)."""
    cfg_path = tmp_path / "zoo.cfg"
    cfg_path.write_text(f"dataDir={tmp_path}/data\nclientPort=2181\nsnapCount=20\n")
    env = {
        "SERVER_JVMFLAGS": "-Xmx1g -Dzookeeper.extendedTypesEnabled=true -Djute.maxbuffer=1000 -Dzookeeper.snapCount=7",
        "JVMFLAGS": "-Djute.maxbuffer=4000000 -Dzookeeper.emulate353TTLNodes=true -Djava.net.preferIPv4Stack=true"
        " -Dzookeeper.jute.maxbuffer=5",
    }
    (tmp_path / "java.env").write_text(
        'SERVER_JVMFLAGS="$SERVER_JVMFLAGS -Dzookeeper.DigestAuthenticationProvider.superDigest=super:x="\n'
    )
    with caplog.at_level(logging.INFO, logger="zk_twisted.tap"):
        cfg = load_server_config(str(cfg_path), env)
    assert cfg.extended_types_enabled and cfg.super_digest == "super:x="
    assert cfg.jute_maxbuffer == 4000000 and cfg.snap_count == 20
    log = caplog.text
    assert "zookeeper.extendedTypesEnabled=true from SERVER_JVMFLAGS from the environment: acted on" in log
    assert f"superDigest=super:x= from SERVER_JVMFLAGS from {tmp_path}/java.env line 1: acted on" in log
    assert "jute.maxbuffer=4000000 from JVMFLAGS from the environment: acted on" in log
    assert (
        "zookeeper.snapCount=7 from SERVER_JVMFLAGS from the environment: overridden by zoo.cfg snapCount=20"
        in log
    )
    assert (
        "zookeeper.emulate353TTLNodes=true from JVMFLAGS from the environment: accepted but not acted on"
        in log
    )
    assert (
        "java.net.preferIPv4Stack=true from JVMFLAGS from the environment: accepted but not acted on" in log
    )
    assert "-Xmx1g (SERVER_JVMFLAGS from the environment)" in log
    assert (
        "zookeeper.jute.maxbuffer=5 from JVMFLAGS from the environment: accepted but not acted on (3.8 reads -Djute.maxbuffer"
        in log
    )
    # ZOOCFGDIR, when set, is where the env files are looked for (zkEnv.sh)
    other = tmp_path / "conf"
    other.mkdir()
    (other / "java.env").write_text("export JVMFLAGS=-Dzookeeper.extendedTypesEnabled=true\n")
    cfg = load_server_config(str(cfg_path), {"ZOOCFGDIR": str(other)})
    assert cfg.extended_types_enabled and cfg.super_digest is None
    # and the same flags reach a shell-started JVM
    assert bash_jvmflags(env, tmp_path).split() == [
        *env["SERVER_JVMFLAGS"].split(),
        "-Dzookeeper.DigestAuthenticationProvider.superDigest=super:x=",
        *env["JVMFLAGS"].split(),
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SERVER_JVMFLAGS": "-Djute.maxbuffer=1M"},
            "-Djute.maxbuffer=1M is not a number (from SERVER_JVMFLAGS from the environment)",
        ),
        (
            {"JVMFLAGS": "-Dzookeeper.snapCount=many"},
            "-Dzookeeper.snapCount=many is not a number (from JVMFLAGS",
        ),
        ({"JVMFLAGS": "-Dx='open"}, "JVMFLAGS=\"-Dx='open\": unterminated ' quote"),
    ],
)
def test_a_bad_property_names_itself_and_exits_2(env, message, tmp_path):
    cfg_path = tmp_path / "zoo.cfg"
    cfg_path.write_text(f"dataDir={tmp_path}/data\nclientPort=2181\n")
    with pytest.raises(ConfigError) as e:
        load_server_config(str(cfg_path), env)
    assert message in str(e.value) and e.value.exit_code == 2
    zk = ZKProcess(tmp_path / "srv", env=env)
    zk.start(wait=False)
    assert zk.proc.wait(60) == 2
    assert message in zk.log()


# ------------------------------------------------------------------------ against Java 3.8
def super_digest(user: str, password: str) -> str:
    """DigestAuthenticationProvider.generateDigest, computed here independently."""
    return f"{user}:" + base64.b64encode(hashlib.sha1(f"{user}:{password}".encode()).digest()).decode()


SUPER = super_digest("super", "s3cret")


def ttl_and_super_script(s: Script, hosts: str) -> None:
    clients = []

    def connect(auth: str | None = None) -> KazooClient:
        c = KazooClient(hosts, timeout=10, auth_data=[("digest", auth)] if auth else None)
        c.start(timeout=15)
        clients.append(c)
        return c

    try:
        c = connect()
        root, st = c.create("/jf", b"", include_data=True)
        s.base_zxid = st.czxid
        s.step("ttl", call, c, CreateTTL("/jf/ttl", b"t", OPEN_ACL_UNSAFE, 5, 60_000))
        s.step("ttl stat", c.exists, "/jf/ttl")
        s.step("ttl seq", call, c, CreateTTL("/jf/ttl-", b"", OPEN_ACL_UNSAFE, 6, 60_000))
        s.step("private", c.create, "/jf/private", b"p", acl=[make_digest_acl("alice", "pw", all=True)])
        s.step("anyone reads", c.get, "/jf/private")
        s.step("wrong super", connect("super:wrong").get, "/jf/private")
        su = connect("super:s3cret")
        s.step("super reads", su.get, "/jf/private")
        s.step("super sets", su.set, "/jf/private", b"q")
        s.step("super deletes", su.delete, "/jf/private")
    finally:
        for c in clients:
            c.stop()
            c.close()


def _start_both(tmp_path: Path, environ: dict, confdir: Path | None, extra: dict | None = None):
    cfg = {"maxClientCnxns": "0", **(extra or {})}
    ours = ZKProcess(tmp_path / "ours", extra=cfg, env=environ)
    java = JavaZK(tmp_path / "java", extra=cfg, jvmflags=bash_jvmflags(environ, confdir))
    return ours, java


@pytest.mark.parametrize("how", ["SERVER_JVMFLAGS", "java.env", "zoo.cfg wins"])
def test_ttl_and_super_user_from_the_java_environment(how, tmp_path):
    """createTTL (extendedTypesEnabled) and the super user (superDigest), both only Java
    system properties in 3.8, passed once in SERVER_JVMFLAGS and once in a java.env; and
    zoo.cfg keys that contradict SERVER_JVMFLAGS: 3.8 sets zookeeper.<key> from zoo.cfg after
    the JVM started, so zoo.cfg wins."""
    flags = (
        f"-Dzookeeper.extendedTypesEnabled=true -Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER}"
    )
    extra = None
    if how == "SERVER_JVMFLAGS":
        environ, confdir = {"SERVER_JVMFLAGS": flags}, None
    elif how == "zoo.cfg wins":
        wrong = super_digest("super", "other")
        environ, confdir = (
            {
                "SERVER_JVMFLAGS": "-Dzookeeper.extendedTypesEnabled=false "
                f"-Dzookeeper.DigestAuthenticationProvider.superDigest={wrong}"
            },
            None,
        )
        extra = {"extendedTypesEnabled": "true", "DigestAuthenticationProvider.superDigest": SUPER}
    else:
        confdir = tmp_path / "conf"
        confdir.mkdir()
        first, second = flags.split()
        (confdir / "java.env").write_text(
            f'# read, not executed\nexport SERVER_JVMFLAGS="-Xmx256m {first}"\nJVMFLAGS="$JVMFLAGS {second}"\n'
        )
        environ = {"ZOOCFGDIR": str(confdir)}
    ours, java = _start_both(tmp_path, environ, confdir, extra)
    results = {}
    try:
        for name, srv in (("ours", ours), ("java", java)):
            srv.start()
            s = Script()
            ttl_and_super_script(s, srv.hosts)
            results[name] = s
            srv.stop()
    finally:
        ours.stop()
        java.stop()
    assert_same(results["ours"], results["java"])
    got = dict(results["ours"].normalized())
    assert got["ttl"][0] == "/jf/ttl" and got["super reads"][0] == b"p" and got["super deletes"] is True
    assert got["anyone reads"] == got["wrong super"] == ("error", "NoAuthError")
    if how == "java.env":
        assert f"from {confdir}/java.env line 2: acted on" in ours.log()
    elif how == "zoo.cfg wins":
        assert "overridden by zoo.cfg extendedTypesEnabled=true (as in 3.8)" in ours.log()
    else:
        assert "SERVER_JVMFLAGS from the environment: acted on" in ours.log()


def test_readme_lists_the_settings_honoured():
    import re

    from zk_twisted import config as c

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = text[text.index("<!-- settings:") : text.index("<!-- /settings -->")]
    items = section.split("\n- ")[1:]
    names = [set(re.findall(r"`([^`]+)`", item.split(":", 1)[1])) for item in items[:3]]
    assert names[0] == set(c._EXPLICIT_ACTED) | {"server.N", "group.N", "weight.N"}
    assert names[1] - {"zookeeper.<key>", "-Dzookeeper.<key>", "-Dzookeeper.multiAddress.enabled"} == (
        c._SYSPROP_ACTED - c._UNPREFIXED
    )
    assert names[2] - {"zookeeper.", "-D<name>", "-D"} == c._JVM_ACTED_UNPREFIXED
