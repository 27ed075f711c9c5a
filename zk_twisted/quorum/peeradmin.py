"""What the AdminServer's and mntr's quorum fields read off a QuorumPeer (admin.commands.QuorumAdmin)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..admin.commands import socket_address
from ..election.messages import ServerState
from .leader import Leader


class PeerAdmin:
    """The peer, its current role and core, seen as 3.8's QuorumPeer / Leader / Learner."""

    def __init__(self, peer) -> None:
        self.peer = peer

    @property
    def myid(self) -> int:
        return self.peer.config.server_id

    def _leader_core(self) -> Leader | None:
        role = self.peer.role
        core = getattr(role, "core", None)
        return core if isinstance(core, Leader) else None

    def is_leader(self) -> bool:
        return self.peer.state == ServerState.LEADING

    def leader_id(self) -> int:
        role = self.peer.role
        return role.decision.leader if role is not None else -1

    def leader_address(self) -> str | None:
        qs = self.peer.config.servers.get(self.leader_id())
        return socket_address(*qs.addr) if qs is not None and self.peer.role is not None else None

    def zab_state(self) -> str:
        core = getattr(self.peer.role, "core", None)
        return (getattr(core, "zab_state", None) or "ELECTION").lower()

    def quorum_address(self) -> str:
        return socket_address(*self.peer.config.my_server.addr)

    def election_address(self) -> str:
        return socket_address(*self.peer.config.my_server.election_addr)

    def client_address(self) -> str:
        cfg = self.peer.config
        return socket_address(cfg.client_port_ip or "0.0.0.0", cfg.client_port)

    def is_voting(self) -> bool:
        me = self.peer.config.my_server
        return me is not None and me.is_participant

    def voting_view(self) -> Mapping[int, Mapping[str, Any]]:
        out = {}
        for sid, qs in sorted(self.peer.config.voting_members.items()):
            out[sid] = {
                "server_addresses": [socket_address(*a) for a in (qs.addrs or (qs.addr,))],
                "election_addresses": [socket_address(*a) for a in (qs.election_addrs or (qs.election_addr,))],
                "client_address": socket_address(*qs.client_addr) if qs.client_addr else "",
                "learner_type": qs.learner_type,
            }
        return out

    def observers(self):
        core = self._leader_core()
        if core is None:
            return None
        synced = [h for h in core.handlers.values() if h.phase == "SYNCED" and not h.is_participant]
        return len(synced), [{"sid": h.sid} for h in synced]

    def reset_observer_stats(self) -> None:
        return None

    def proposal_stats(self):
        return None

    # -- mntr's quorum gauges
    def gauges(self) -> dict[str, int]:
        cfg = self.peer.config
        g = {"quorum_size": len(cfg.voting_members)}
        core = self._leader_core()
        if core is not None:
            synced = [h for h in core.handlers.values() if h.phase == "SYNCED"]
            g.update(
                learners=sum(1 for h in core.handlers.values() if h.sid is not None),
                synced_followers=sum(1 for h in synced if h.is_participant),
                synced_non_voting_followers=0,
                synced_observers=sum(1 for h in synced if not h.is_participant),
                pending_syncs=sum(len(v) for v in core.pending_syncs.values()),
                last_proposal_size=-1,
                min_proposal_size=-1,
                max_proposal_size=-1,
            )
        return g
