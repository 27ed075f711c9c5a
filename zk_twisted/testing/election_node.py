"""Run one server's election stack alone, on real sockets, with the real reactor.

    python -m zk_twisted.testing.election_node zoo.cfg [--zxid Z] [--epoch E]

It listens on the election port of ``server.<myid>``, starts looking, and prints one JSON
line per event on stdout: ``{"event": "listening", ...}``, ``{"event": "decided",
"leader": L, "state": "LEADING", "zxid": Z, "peer_epoch": P, "round": R, ...}``.  After a
decision it keeps answering peers, as a QuorumPeer in its role does.  Commands on stdin,
one per line: ``look`` (the role ended: a new round), ``epoch N`` (updateElectionVote),
``stats`` (print the connection manager's counters), ``quit``.

No ZAB role runs: this is the election half of a QuorumPeer, for tests and for checking
our notifications against Java ZooKeeper's nodes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from twisted.internet import reactor, stdio
from twisted.protocols.basic import LineReceiver

from ..config import load_config
from ..network.election_port import create_election


def _emit(**kw) -> None:
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


class _Commands(LineReceiver):
    delimiter = b"\n"

    def __init__(self, node: _Node) -> None:
        self.node = node

    def lineReceived(self, line: bytes) -> None:
        cmd = line.decode().strip().split()
        if not cmd:
            return
        if cmd[0] == "look":
            self.node.look()
        elif cmd[0] == "epoch":
            self.node.stack.election.update_election_vote(int(cmd[1]))
            _emit(event="epoch", peer_epoch=int(cmd[1]))
        elif cmd[0] == "stats":
            m = self.node.stack.manager
            fle = self.node.stack.fle
            _emit(
                event="stats",
                connected=sorted(m.workers),
                state=fle.state.name,
                round=fle.logicalclock,
                leader=fle.current_vote.leader if fle.current_vote else None,
                **m.stats,
            )
        elif cmd[0] == "quit":
            reactor.stop()

    def connectionLost(self, reason=None) -> None:
        if reactor.running:
            reactor.stop()


class _Node:
    def __init__(self, cfg, zxid: int, epoch: int) -> None:
        self.cfg = cfg
        self.zxid, self.epoch = zxid, epoch
        self.stack = create_election(cfg, reactor)

    def look(self) -> None:
        from ..election.messages import ServerState

        self.stack.election.set_state(ServerState.LOOKING)
        self.started = reactor.seconds()
        d = self.stack.election.look_for_leader(self.zxid, self.epoch)
        d.addCallback(self._decided)

    def _decided(self, decision) -> None:
        v = decision.vote
        _emit(
            event="decided",
            sid=self.cfg.server_id,
            leader=v.leader,
            state=decision.state.name,
            zxid=v.zxid,
            peer_epoch=v.peer_epoch,
            round=self.stack.fle.logicalclock,
            election_epoch=v.election_epoch,
            elapsed_ms=round((reactor.seconds() - self.started) * 1000, 1),
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config")
    ap.add_argument("--zxid", type=lambda s: int(s, 0), default=0, help="last logged zxid")
    ap.add_argument("--epoch", type=int, default=0, help="currentEpoch")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cfg = load_config(args.config)
    node = _Node(cfg, args.zxid, args.epoch)
    _emit(event="listening", sid=cfg.server_id, port=node.stack.port.getHost().port)
    stdio.StandardIO(_Commands(node))
    reactor.callWhenRunning(node.look)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
