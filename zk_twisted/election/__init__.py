"""Leader election: the election port (QuorumCnxManager) and FastLeaderElection (sans-IO).

Modules, one job each:

* ``messages``   -- the bytes: initial message, frames, Notification (3.8's layouts)
* ``cnxmanager`` -- QuorumCnxManager's core: one connection per pair, queues, resend, limits
* ``fle``        -- FastLeaderElection's core: one handler per spec action, decisions out
* ``driver``     -- LeaderElection: runs the core over a clock + transport, Deferred out

The Twisted shell is ``zk_twisted.network.election_port`` (``create_election(cfg, reactor)``);
the quorum verifiers (majority, hierarchical) live in ``zk_twisted.quorum.verifier``; the
in-memory network and whole-ensemble simulation in ``zk_twisted.testing``.

What QuorumPeer calls::

    stack = create_election(cfg, reactor)      # listens on the election port
    election = stack.election                  # LeaderElection
    d = election.look_for_leader(last_logged_zxid, current_epoch)
    # -> Deferred firing with Decision(vote, state): state LEADING / FOLLOWING / OBSERVING,
    #    vote.leader the sid to lead / follow, vote.zxid / vote.peer_epoch as elected
    election.update_election_vote(new_epoch)   # at UPTODATE / leader established
    election.set_state(ServerState.LOOKING)    # the role ended; then look_for_leader again
    stack.stop()                               # shutdown: timers, connections, listener

``last_logged_zxid`` is the database's last processed zxid (``getLastLoggedZxid``) and
``current_epoch`` the currentEpoch file, read at each call (3.8 reads them at each round).
"""
