"""Trace generation on the trace model: 1,000 walks of depth 50 take every action of the spec,
reach the places that matter (faults in BROADCAST and sync, several writes, non-empty DIFFs,
several TRUNC shapes: conformance/corpus.py), and replay through the spec step by step (what
the conformance runner relies on).

The time it takes is measured by bench/trace_generation.py, not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(REPO, "spec", "ZkSystemTraces.cfg")


def _conformance(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.timeout(1200)  # the corpus (a session fixture shared with the replay) is made here
def test_thousand_walks_cover_every_action_and_replay(trace_corpus, tmp_path):
    out, summary = trace_corpus
    assert summary["traces"] == 1000
    coverage = summary["coverage"]
    # 22: the trace model has ModelFsync (FsyncLog), not SplitNewLeader (SendNEWLEADER left out)
    assert coverage["uncovered"] == [] and coverage["covered"] == coverage["actions_total"] == 22
    assert "SendNEWLEADER" not in coverage["actions"]
    assert all(
        coverage["actions"][a]["steps"] > 0 for a in ("HandleTRUNC", "HandleDIFF", "HandleSNAP", "Crash", "FsyncLog")
    )
    lines = out.read_text().splitlines()
    assert len(lines) == 1000
    # where the steps land, not only which actions: faults in BROADCAST, several writes per
    # trace, DIFFs with content, TRUNCs of several shapes (issue 12: all were 0 or 1)
    from conformance.corpus import corpus_stats

    stats = corpus_stats(json.loads(line) for line in lines)
    brief = {k: v for k, v in stats.items() if k != "by_phase"}
    assert stats["faults_in_broadcast"] > 0 and stats["faults_in_sync"] > 0, brief
    assert stats["traces_with_2_writes_or_more"] > 0, brief
    assert stats["non_empty_diffs"] > 0, brief
    assert len(stats["trunc_shapes"]) >= 2, brief
    sample = tmp_path / "sample.jsonl"
    sample.write_text("\n".join(lines[::25]) + "\n")  # 40 traces spread over the run
    r = _conformance("replay", MODEL, str(sample), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
