"""The ensemble's ZAB side: quorum-port packets, epoch files, Leader / LearnerHandler /
Follower / Observer (sans-IO cores) and the quorum port's Twisted shells.

The election side (QuorumCnxManager, FastLeaderElection) lives in ``zk_twisted.election``.
"""
