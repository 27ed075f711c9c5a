"""Leader election: the election port (QuorumCnxManager) and FastLeaderElection (sans-IO).

The quorum verifiers (majority, hierarchical) live in ``zk_twisted.quorum.verifier``.
"""
