"""The ZAB cores under hypothesis-chosen schedules: deliveries, fsyncs, ticks, writes,
crashes and re-elections (an oracle picks the leader, as spec/Zab.tla's ZabSpec does),
from an empty ensemble or from the spec's recovery state (one node holds an uncommitted
txn of epoch 1), with 3 or 5 nodes (zabsim.run_schedule).

After every step: every committed txn is durable at a quorum, one txn per zxid, nodes
apply in zxid order, learners record a commit only after applying it.  After the faults
stop and the most up-to-date node leads: every node holds the same history, and it
contains every txn any node ever committed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zabsim import run_schedule  # noqa: E402


#: ZAB_SCHEDULES=N runs N schedules (120 in the suite); bench/zab_schedules.py runs more
@settings(
    max_examples=int(os.environ.get("ZAB_SCHEDULES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data(), n=st.sampled_from([3, 3, 5]), steps=st.integers(10, 80))
def test_random_schedules_keep_zab_invariants(data, n, steps):
    run_schedule(n, lambda options, label: data.draw(st.sampled_from(options), label=label), steps)
