"""Quorum verifiers (IQuorumVerifier): which sets of servers form a quorum.

``QuorumMaj`` is 3.8's QuorumMaj: more than half of the participants (observers never
count).  ``QuorumHierarchical`` is 3.8's QuorumHierarchical (group.N / weight.N): more than
half of the groups of non-zero weight must each hold more than half of their group's weight.

Both print themselves as 3.8's ``toString()`` does (:meth:`to_string`): the text FLE puts in
every notification and NEWLEADER carries.  3.8 walks Java HashMaps there; :func:`java_long_order`
reproduces that order for Long keys, so the bytes match a Java peer's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from zope.interface import implementer

from ..interfaces import IQuorumVerifier

__all__ = ["QuorumMaj", "QuorumHierarchical", "verifier_from_config", "java_long_order"]


def _java_long_hash(v: int) -> int:
    """Long.hashCode, then HashMap.hash's spreading, as an unsigned 32-bit value."""
    u = v & 0xFFFFFFFFFFFFFFFF
    h = (u ^ (u >> 32)) & 0xFFFFFFFF
    return (h ^ (h >> 16)) & 0xFFFFFFFF


def _java_table_size(n: int) -> int:
    """The table size a HashMap filled by n puts ends with (16, doubling past 0.75 load)."""
    cap = 16
    while n > cap * 3 // 4:
        cap *= 2
    return cap


def java_long_order(keys: Iterable[int]) -> list[int]:
    """The iteration order of a java.util.HashMap<Long, ...> holding ``keys``, inserted in the
    given order (bucket index; within a bucket, insertion order, which resizes keep)."""
    keys = list(dict.fromkeys(keys))
    mask = _java_table_size(len(keys)) - 1
    return sorted(keys, key=lambda k: _java_long_hash(k) & mask)  # sorted() is stable


def _members_text(all_members: Mapping) -> list[str]:
    return [
        f"server.{sid}={all_members[sid].to_config_string()}" for sid in java_long_order(sorted(all_members))
    ]


@implementer(IQuorumVerifier)
class QuorumMaj:
    """Majority of the voting members; ``observers`` are members that never vote."""

    def __init__(self, voting_members: Mapping, observers: Mapping | None = None, version: int = 0) -> None:
        self.voting_members = dict(voting_members)
        self.observing_members = dict(observers or {})
        self.all_members = {**self.voting_members, **self.observing_members}
        self.version = version
        self.half = len(self.voting_members) // 2

    def weight(self, sid: int) -> int:
        """QuorumMaj.getWeight: 1 for every id (FLE's totalOrderPredicate only asks about voters)."""
        return 1

    def contains_quorum(self, sids: Iterable[int]) -> bool:
        """QuorumMaj.containsQuorum: strictly more than half of the voters.

        3.8 counts the set's size and relies on its callers (SyncedLearnerTracker) to add only
        voters; here non-voters are left out by the verifier itself.
        """
        voters = self.voting_members
        return sum(1 for s in set(sids) if s in voters) > self.half

    def to_string(self) -> str:
        """QuorumMaj.toString: ``server.N=...`` lines (HashMap order), then ``version=<hex>``."""
        return "".join(f"{line}\n" for line in _members_text(self.all_members)) + f"version={self.version:x}"

    @classmethod
    def from_config(cls, cfg) -> QuorumMaj:
        return cls(cfg.voting_members, cfg.observers, cfg.config_version)


@implementer(IQuorumVerifier)
class QuorumHierarchical:
    """Groups of weighted servers: a quorum is a majority of the non-zero-weight groups, each
    holding more than half of its weight (3.8's integer halves: weight 3 needs 2, 4 needs 3).

    ``groups``: gid -> member sids; ``weights``: sid -> weight (participants without a
    weight.N weigh 1, as 3.8 and ZKConfig give them).  Servers in no group add nothing.
    """

    def __init__(
        self,
        voting_members: Mapping,
        observers: Mapping | None,
        groups: Mapping[int, Iterable[int]],
        weights: Mapping[int, int],
        version: int = 0,
    ) -> None:
        self.voting_members = dict(voting_members)
        self.observing_members = dict(observers or {})
        self.all_members = {**self.voting_members, **self.observing_members}
        self.version = version
        self.groups = {gid: tuple(m) for gid, m in groups.items()}
        self.server_group: dict[int, int] = {}
        for gid, members in self.groups.items():
            for sid in members:
                if sid in self.server_group:
                    raise ValueError(f"Server {sid} is in multiple groups")
                self.server_group[sid] = gid
        self.server_weight = dict(weights)
        for sid in self.voting_members:
            if sid not in self.server_group:
                raise ValueError(f"Server {sid} is not in a group")
            self.server_weight.setdefault(sid, 1)
        self.group_weight: dict[int, int] = {}
        for sid, gid in self.server_group.items():
            self.group_weight[gid] = self.group_weight.get(gid, 0) + self.server_weight[sid]
        # 3.8: numGroups counts the group.N lines, less the groups of weight zero
        self.num_groups = len(self.groups) - sum(1 for w in self.group_weight.values() if w == 0)

    def weight(self, sid: int) -> int:
        """QuorumHierarchical.getWeight (0 for an id with no weight: it can never win FLE)."""
        return self.server_weight.get(sid, 0)

    def contains_quorum(self, sids: Iterable[int]) -> bool:
        """QuorumHierarchical.containsQuorum."""
        expansion: dict[int, int] = {}
        sids = set(sids)
        if not sids:
            return False
        for sid in sids:
            gid = self.server_group.get(sid)
            if gid is None:
                continue
            expansion[gid] = expansion.get(gid, 0) + self.server_weight[sid]
        majorities = sum(1 for gid, w in expansion.items() if w > self.group_weight[gid] // 2)
        return majorities > self.num_groups // 2

    def to_string(self) -> str:
        """QuorumHierarchical.toString: servers, ``group.G=a:b`` (members in serverGroup's
        HashMap order), ``weight.N=w``, then ``version=<hex>``."""
        lines = _members_text(self.all_members)
        in_group: dict[int, list[int]] = {}
        for sid in java_long_order(sorted(self.server_group)):
            in_group.setdefault(self.server_group[sid], []).append(sid)
        for gid in java_long_order(sorted(in_group)):
            lines.append(f"group.{gid}={':'.join(map(str, in_group[gid]))}")
        for sid in java_long_order(sorted(self.server_weight)):
            lines.append(f"weight.{sid}={self.server_weight[sid]}")
        return "".join(f"{line}\n" for line in lines) + f"version={self.version:x}"

    @classmethod
    def from_config(cls, cfg) -> QuorumHierarchical:
        return cls(cfg.voting_members, cfg.observers, cfg.groups, cfg.weights, cfg.config_version)


def verifier_from_config(cfg) -> QuorumMaj | QuorumHierarchical:
    """QuorumPeerConfig.createQuorumVerifier: hierarchical when group.N / weight.N are set."""
    if cfg.is_hierarchical:
        return QuorumHierarchical.from_config(cfg)
    return QuorumMaj.from_config(cfg)
