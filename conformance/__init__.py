"""Conformance harness: TLC driven in-process from Python (jpype1), trace generation and replay.

* :func:`check_model` (:mod:`conformance.tlc`): exhaustive model checking of a
  ``spec/<Model>.cfg``; returns a :class:`CheckResult` with counts and each
  violation's trace as Python values.
* :class:`Model` (:mod:`conformance.model`): a spec loaded into TLC's
  evaluator: initial states, actions, successors, invariants.
* :func:`generate_traces`, :class:`Walker`, :func:`validate_trace`,
  :func:`validate_violation` (:mod:`conformance.walker`): random and
  coverage-guided walks written as JSON lines, and their replay.
* ``python -m conformance check|traces|replay|actions``: the CLI (see README.md).

One JVM per process (:func:`start_jvm`, idempotent) and one live spec per JVM.
"""

from .jvm import find_jar, start_jvm
from .model import ActionInfo, Model, ModelRef, SpecError, StaleModelError, resolve
from .tlc import CheckResult, TraceStep, Violation, check_model
from .walker import (
    Coverage,
    GenerationResult,
    ReplayResult,
    Walker,
    generate_traces,
    read_traces,
    validate_trace,
    validate_violation,
)

__all__ = [
    "ActionInfo",
    "CheckResult",
    "Coverage",
    "GenerationResult",
    "Model",
    "ModelRef",
    "ReplayResult",
    "SpecError",
    "StaleModelError",
    "TraceStep",
    "Violation",
    "Walker",
    "check_model",
    "find_jar",
    "generate_traces",
    "read_traces",
    "resolve",
    "start_jvm",
    "validate_trace",
    "validate_violation",
]
