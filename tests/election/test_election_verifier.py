"""Quorum verifiers: QuorumMaj and QuorumHierarchical decide as 3.8's do, and print as 3.8's toString."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zk_twisted.config import QuorumServer, parse_config
from zk_twisted.interfaces import IQuorumVerifier
from zk_twisted.quorum.verifier import QuorumHierarchical, QuorumMaj, java_long_order, verifier_from_config


def qs(sid, kind="participant"):
    return QuorumServer(sid, ("127.0.0.1", 2000 + sid), ("127.0.0.1", 3000 + sid), kind)


def servers(*sids, observers=()):
    voting = {s: qs(s) for s in sids}
    obs = {s: qs(s, "observer") for s in observers}
    return voting, obs


def test_interfaces():
    v, o = servers(1, 2, 3)
    assert IQuorumVerifier.providedBy(QuorumMaj(v, o))
    assert IQuorumVerifier.providedBy(QuorumHierarchical(v, o, {1: (1, 2, 3)}, {}))


@pytest.mark.parametrize(
    "n, sids, quorum",
    [(3, {1, 2}, True), (3, {1}, False), (4, {1, 2}, False), (4, {1, 2, 3}, True), (5, {1, 2, 3}, True),
     (5, {4, 5}, False), (1, {1}, True), (3, set(), False)],
)  # fmt: skip
def test_majority(n, sids, quorum):
    v, o = servers(*range(1, n + 1), observers=(9,))
    assert QuorumMaj(v, o).contains_quorum(sids) is quorum


def test_majority_ignores_observers_and_strangers():
    v, o = servers(1, 2, 3, observers=(4, 5))
    assert not QuorumMaj(v, o).contains_quorum({1, 4, 5, 77})


@given(st.integers(1, 9), st.sets(st.integers(0, 12)))
def test_majority_property(n, sids):
    v, o = servers(*range(1, n + 1), observers=(10, 11))
    assert QuorumMaj(v, o).contains_quorum(sids) == (2 * len(sids & set(v)) > n)


# --------------------------------------------------------------------- hierarchical
def nine():
    v, o = servers(*range(1, 10))
    return QuorumHierarchical(v, o, {1: (1, 2, 3), 2: (4, 5, 6), 3: (7, 8, 9)}, {})


@pytest.mark.parametrize(
    "sids, quorum",
    [({1, 2, 4, 5}, True), ({1, 4, 7}, False), ({1, 2, 3, 4, 5, 6}, True), ({1, 2, 3, 7, 8, 9}, True),
     ({1, 2, 3}, False), ({1, 2, 4, 7, 8}, True), (set(), False)],
)  # fmt: skip
def test_hierarchical_three_groups(sids, quorum):
    # QuorumHierarchical's javadoc example: group.1=1:2:3 group.2=4:5:6 group.3=7:8:9, weights 1
    assert nine().contains_quorum(sids) is quorum


def test_hierarchical_weights_and_zero_weight_groups():
    v, o = servers(1, 2, 3, 4, 5, 6)
    # group 1 weighs 3 (1 weighs 2): {1} alone is its majority; group 3 weighs 0 and does not count
    h = QuorumHierarchical(v, o, {1: (1, 2), 2: (3, 4), 3: (5, 6)}, {1: 2, 2: 1, 3: 1, 4: 1, 5: 0, 6: 0})
    assert h.num_groups == 2
    assert not h.contains_quorum({1})  # one group of two: 1 > 2 // 2 is false
    assert h.contains_quorum({1, 3, 4})  # both groups
    assert not h.contains_quorum({2, 3, 5, 6})  # group 1: 1 of 3 is no majority
    assert h.weight(5) == 0 and h.weight(1) == 2


def test_hierarchical_refuses_what_3_8_refuses():
    v, o = servers(1, 2, 3)
    with pytest.raises(ValueError, match="not in a group"):
        QuorumHierarchical(v, o, {1: (1, 2)}, {})
    with pytest.raises(ValueError, match="multiple groups"):
        QuorumHierarchical(v, o, {1: (1, 2), 2: (2, 3)}, {})


@st.composite
def hierarchies(draw):
    n = draw(st.integers(1, 9))
    sids = list(range(1, n + 1))
    ngroups = draw(st.integers(1, n))
    assign = {s: draw(st.integers(1, ngroups)) for s in sids}
    groups = {}
    for s, g in assign.items():
        groups.setdefault(g, []).append(s)
    weights = {s: draw(st.integers(0, 3)) for s in sids}
    return sids, groups, weights, draw(st.sets(st.sampled_from(sids + [50])))


@given(hierarchies())
def test_hierarchical_property(h):
    """The rule as 3.8 states it: a majority of the groups of non-zero weight, each group with
    more than half of its weight present."""
    sids, groups, weights, present = h
    v, o = servers(*sids)
    verifier = QuorumHierarchical(v, o, groups, weights)
    counted = [g for g, m in groups.items() if sum(weights[s] for s in m) > 0]
    majorities = [
        g for g in counted if 2 * sum(weights[s] for s in groups[g] if s in present) > sum(weights[s] for s in groups[g])
    ]
    assert verifier.contains_quorum(present) == (bool(present) and 2 * len(majorities) > len(counted))


# ------------------------------------------------------------------------ toString
def test_java_hashmap_order_of_long_keys():
    # java.util.HashMap<Long, ?>: buckets of the 16-slot table, insertion order within one
    assert java_long_order([1, 16, 17]) == [16, 1, 17]
    assert java_long_order([3, 1, 2]) == [1, 2, 3]
    assert java_long_order(range(1, 14)) == list(range(1, 14))  # 13 keys: the table grows to 32
    assert java_long_order([1, 33, 2]) == [1, 33, 2]


def test_majority_to_string():
    v, o = servers(1, 2, observers=(3,))
    assert QuorumMaj(v, o, version=0x1A).to_string() == (
        "server.1=127.0.0.1:2001:3001:participant\n"
        "server.2=127.0.0.1:2002:3002:participant\n"
        "server.3=127.0.0.1:2003:3003:observer\n"
        "version=1a"
    )


def test_hierarchical_to_string():
    v, o = servers(1, 2, 3)
    h = QuorumHierarchical(v, o, {2: (3, 1), 1: (2,)}, {1: 2, 2: 1, 3: 0})
    assert h.to_string() == (
        "server.1=127.0.0.1:2001:3001:participant\n"
        "server.2=127.0.0.1:2002:3002:participant\n"
        "server.3=127.0.0.1:2003:3003:participant\n"
        "group.1=2\n"
        "group.2=1:3\n"
        "weight.1=2\n"
        "weight.2=1\n"
        "weight.3=0\n"
        "version=0"
    )


def test_from_config(tmp_path):
    (tmp_path / "myid").write_text("1")
    base = f"dataDir={tmp_path}\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n"
    members = "".join(f"server.{i}=127.0.0.1:{2000 + i}:{3000 + i}\n" for i in (1, 2, 3))
    maj = verifier_from_config(parse_config(base + members))
    assert isinstance(maj, QuorumMaj) and maj.contains_quorum({1, 3}) and not maj.contains_quorum({2})
    hier = verifier_from_config(parse_config(base + members + "group.1=1:2\ngroup.2=3\nweight.3=0\n"))
    assert isinstance(hier, QuorumHierarchical)
    assert hier.num_groups == 1 and hier.contains_quorum({1, 2}) and not hier.contains_quorum({1, 3})
    assert "group.1=1:2\ngroup.2=3\nweight.1=1\nweight.2=1\nweight.3=0\nversion=0" in hier.to_string()
