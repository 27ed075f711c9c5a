"""A seeded bug for live trace validation, applied at interpreter start-up (tests only).

tests/livetrace.py puts this folder first on a server's PYTHONPATH with
``ZK_TWISTED_LIVE_MUTANT=<name>``; nothing in zk_twisted reads that variable.  (The
``mutants`` branch's registry, zk_twisted/testing/mutants.py, patches classes in the test
process and is not on this branch; a live ``twistd`` process needs the patch in its own
interpreter, which Python's sitecustomize hook gives without a switch in the node code.)

``follower_skips_current_epoch``: a follower ACKs NEWLEADER without writing currentEpoch
(the spec's mutant of that name breaks CurrentEpochCoversLog).  Any other name is one of the
mutant catalogue's (zk_twisted/testing/mutants.py, merged meanwhile), applied for the
process's whole life.
"""

import os

if os.environ.get("ZK_TWISTED_LIVE_MUTANT") == "follower_skips_current_epoch":
    from zk_twisted.quorum import learner

    def _ack_newleader(self, zxid, uncommitted):
        self._ack(zxid)  # MUTANT: no write_current_epoch before the ACK
        for z in uncommitted:
            self._ack(z)
        self.sync_stage = learner.NEWLEADER_ACKED

    learner.Learner._ack_newleader = _ack_newleader
elif os.environ.get("ZK_TWISTED_LIVE_MUTANT"):
    from zk_twisted.testing.mutants import mutant

    mutant(os.environ["ZK_TWISTED_LIVE_MUTANT"]).__enter__()  # never left: the process's life
