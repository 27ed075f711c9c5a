"""Quorum verifiers (IQuorumVerifier): which sets of servers form a quorum.

``QuorumMaj`` is 3.8's QuorumMaj: more than half of the participants (observers never
count).  The hierarchical verifier (QuorumHierarchical: group.N / weight.N) joins it here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from zope.interface import implementer

from ..interfaces import IQuorumVerifier


@implementer(IQuorumVerifier)
class QuorumMaj:
    """Majority of the voting members; ``observers`` are members that never vote."""

    def __init__(self, voting_members: Mapping, observers: Mapping | None = None, version: int = 0) -> None:
        self.voting_members = dict(voting_members)
        self.observing_members = dict(observers or {})
        self.version = version
        self.half = len(self.voting_members) // 2

    def weight(self, sid: int) -> int:
        return 1 if sid in self.voting_members else 0

    def contains_quorum(self, sids: Iterable[int]) -> bool:
        """QuorumMaj.containsQuorum: strictly more than half of the voters (others ignored)."""
        voters = self.voting_members
        return sum(1 for s in set(sids) if s in voters) > self.half

    @classmethod
    def from_config(cls, cfg) -> QuorumMaj:
        return cls(cfg.voting_members, cfg.observers, cfg.config_version)
