"""Model checking with TLC inside this Python process.

:func:`check_model` runs TLC's breadth-first model checker on one model
(``spec/Foo.cfg``) in the process's JVM (:mod:`conformance.jvm`), without
``TLC.main`` (whose ``System.exit`` would end Python), and returns a
:class:`CheckResult`: states generated, distinct states, depth, time, and
each violation with its counterexample as a list of :class:`TraceStep`
(action name, action parameters, state as Python values).

How a counterexample becomes Python values: TLC prints it; the states of the
printed trace are then found again by stepping the very spec TLC just checked
(the checker's own ``FastTool``): from the initial state whose printing is
the printed one, through the successor under the printed action whose
printing is the next one, and so on.  This yields the action's parameters as
well (TLC prints only the operator's name), and every trace returned is
replayable by construction.  Under SYMMETRY, TLC may print a permuted image
of a state; a successor matching up to one of the model's permutations is
then taken, so the trace stays a genuine path of the spec.

TLC_NOTES' pitfalls are handled here: TLC's output goes to a buffer
(``-tool`` framing, parsed), each run gets its own ``-metadir`` (removed
after), the fingerprint sets' RMI exports are unexported after each run (so
Python exits promptly), names cached by an earlier spec are forgotten before
loading, and one spec is live per process at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .jvm import forget_spec_names, java_class, spec_lock, start_jvm, stop_stray_threads, thread_ids
from .model import Model, ModelRef, SpecError, capture_tool_output, resolve

__all__ = ["check_model", "CheckResult", "Violation", "TraceStep", "TLCMessage", "parse_messages"]


@dataclass
class TraceStep:
    """One state of a trace and the action that reached it (None for the initial state)."""

    action: str | None
    state: dict[str, Any] | None
    params: dict[str, Any] = field(default_factory=dict)
    text: str = ""  # the state as TLC printed it

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "params": self.params, "state": self.state}


@dataclass
class Violation:
    """What TLC reported: ``kind`` is 'invariant', 'deadlock', 'property' or 'error'."""

    kind: str
    name: str | None
    message: str
    trace: list[TraceStep] = field(default_factory=list)
    #: True when every printed state was found again by stepping the spec
    #: (always, unless the trace is a liveness lasso or TLC printed something
    #: odd); then ``trace`` replays under :func:`conformance.walker.validate_trace`.
    trace_rebuilt: bool = False
    #: With ``check_model(validate=True)``: whether the trace replayed under
    #: :func:`conformance.walker.validate_violation` (None: not checked), and why not.
    validated: bool | None = None
    validation: str = ""
    #: For liveness counterexamples: the 1-based index of the state the lasso
    #: returns to (the last state's own index when the behaviour stutters there).
    loop_to: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "message": self.message,
            "trace_rebuilt": self.trace_rebuilt,
            "loop_to": self.loop_to,
            "validated": self.validated,
            "validation": self.validation,
            "trace": [s.to_json() for s in self.trace],
        }


@dataclass
class CheckResult:
    model: str
    spec_dir: str
    module: str
    config: str
    ok: bool  # complete search, no violation, no error
    exit_code: int  # TLC's process exit status: 0 ok, 11 deadlock, 12 safety, 13 liveness, 75+ errors, 150 parse, 151 cfg
    tlc_code: int  # the EC code TLC.process() returned (0, 2110, 2114, ...)
    states: int = 0
    distinct: int = 0
    depth: int = 0
    queue: int = 0
    seconds: float = 0.0
    complete: bool = True  # False if stopped early (timeout, interrupt)
    violations: list[Violation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    output: str = field(default="", repr=False)

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else 0.0

    def violation(self, name: str) -> Violation | None:
        """The first violation of the invariant/property called ``name``."""
        return next((v for v in self.violations if v.name == name), None)

    def summary(self) -> str:
        if self.violations:
            head = "VIOLATION"
        elif self.errors:
            head = "ERROR"
        elif not self.complete:
            head = "INCOMPLETE (stopped early, no violation so far)"
        else:
            head = "OK"
        lines = [
            f"{head}: {self.model} ({self.module}.tla + {self.config}): {self.states:,} states, "
            f"{self.distinct:,} distinct, depth {self.depth}, {self.seconds:.1f} s, exit {self.exit_code}"
        ]
        for v in self.violations:
            lines.append(f"  {v.kind} {v.name or ''}: {v.message} (trace of {len(v.trace)} states)")
            for k, step in enumerate(v.trace):
                label = step.action or "<initial>"
                if step.params:
                    label += "(" + ", ".join(f"{p}={x}" for p, x in step.params.items()) + ")"
                lines.append(f"    {k}: {label}")
        for e in self.errors:
            lines.append("  error: " + e.strip().replace("\n", "\n         "))
        return "\n".join(lines)

    def to_json(self, with_output: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d["violations"] = [v.to_json() for v in self.violations]
        if not with_output:
            d.pop("output")
        return d


@dataclass
class TLCMessage:
    code: int
    severity: int  # 0 none, 1 error, 2 TLC bug, 3 warning, 4 state
    text: str


_FRAME = re.compile(r"@!@!@(?:STARTMSG \d+:\d+|ENDMSG \d+) @!@!@\r?\n?")  # nested frames
_MSG = re.compile(r"@!@!@STARTMSG (\d+):(\d+) @!@!@\r?\n(.*?)@!@!@ENDMSG \1 @!@!@", re.DOTALL)


def parse_messages(output: str) -> list[TLCMessage]:
    """The ``-tool`` framed messages of TLC's output, in order."""
    return [
        TLCMessage(int(m.group(1)), int(m.group(2)), _FRAME.sub("", m.group(3)).strip("\n"))
        for m in _MSG.finditer(output)
    ]


# EC codes (tlc2.output.EC of TLC 2.15)
_NESTED_EXPRESSION = 2103
_INV_INITIAL = 2107
_INV_BEHAVIOR = 2110
_INV_EVAL_FAILED = 2111
_ACTION_PROP = 2112
_ACTION_PROP_EVAL_FAILED = 2113
_DEADLOCK = 2114
_TEMPORAL = 2116
_BEHAVIOR_UP_TO = 2121
_BACK_TO_STATE = 2122
_COUNTER_EXAMPLE = 2264
_STATE_PRINTS = (2216, 2217, 2218)
_STATS = 2199
_DEPTH = 2194
_PROGRESS = 2200
_INIT_GENERATED = (2190, 2191, 2207, 2208)
_SUCCESS = 2193

_VIOLATION_CODES = {
    _INV_INITIAL: "invariant",
    _INV_BEHAVIOR: "invariant",
    _ACTION_PROP: "property",
    _DEADLOCK: "deadlock",
    _TEMPORAL: "property",
}
_NAME = re.compile(r"(?:Invariant|Action property|property|Property)\s+(\w+)\s+is violated")
# -tool prints "14: Back to state: <Action line 102, ...>", the plain form "Back to state 14: ..."
_BACK_TO = re.compile(r"^(\d+):\s*Back to state|Back to state\s+(\d+)")
_STATE_HEAD = re.compile(r"^(\d+):\s*(.*)$")
_ACTION_HEAD = re.compile(r"^<(\w+)(?:\s+line \d+.*)?>$")


def _ints(text: str) -> list[int]:
    return [int(x.replace(",", "")) for x in re.findall(r"\d[\d,]*", text)]


def _tlc_args(
    ref: ModelRef, workers: int | str, deadlock: bool, metadir: str, extra: list[str], continue_: bool
) -> list[str]:
    cfg = ref.config[:-4] if ref.config.endswith(".cfg") else ref.config
    args = ["-tool", "-config", cfg, "-metadir", metadir, "-workers", str(workers)]
    if not deadlock:
        args.append("-deadlock")  # TLC's flag *disables* the deadlock check
    if continue_:
        args.append("-continue")
    args += list(extra)
    args.append(ref.module)
    return args


class _Progress:
    """Prints a progress line (states, distinct, rate, queue) every ``interval`` seconds."""

    def __init__(self, name: str, interval: float, stream=None):
        self.name = name
        self.interval = interval
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()
        self.last_t = self.t0
        self.last_distinct = 0
        self.next_at = self.t0 + min(interval, 5.0)
        self.printed = False
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def poll(self, checker) -> None:
        now = time.monotonic()
        if now < self.next_at:
            return
        self.next_at = now + self.interval
        if checker is None:
            line = f"[tlc {self.name}] {now - self.t0:6.1f}s parsing / computing initial states"
        else:
            try:
                gen = int(checker.getStatesGenerated()) if hasattr(checker, "getStatesGenerated") else 0
                distinct = int(checker.getDistinctStatesGenerated())
                queue = int(checker.getStateQueueSize())
            except Exception:  # the checker is between phases
                return
            rate = (distinct - self.last_distinct) / max(now - self.last_t, 1e-9)
            self.last_distinct, self.last_t = distinct, now
            line = (
                f"[tlc {self.name}] {now - self.t0:6.1f}s {gen:,} states, {distinct:,} distinct "
                f"({rate:,.0f} distinct/s), queue {queue:,}"
            )
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.printed = True

    def done(self) -> None:
        if self.printed and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _release_checker(tlc_globals) -> None:
    """TLC_NOTES pitfall 1: unexport the fingerprint sets' RMI objects, clear mainChecker."""
    checker = tlc_globals.mainChecker
    if checker is not None:
        urob = java_class("java.rmi.server.UnicastRemoteObject")
        fpset = getattr(checker, "theFPSet", None)
        objs = []
        if fpset is not None:
            objs.append(fpset)
            try:
                objs.extend(fpset.getFPSets() or [])
            except Exception:
                pass
        for obj in objs:
            try:
                urob.unexportObject(obj, True)
            except Exception:
                pass  # not exported
        try:
            if fpset is not None:
                fpset.close()
        except Exception:
            pass
    tlc_globals.mainChecker = None
    tlc_globals.simulator = None


def _reset_statics(tlc_globals) -> None:
    """Undo the statics an earlier run in this JVM left set that a new run reads unreset:
    ``-continue`` sticks in ``TLCGlobals.continuation``, and the liveness checker's
    ``errFoundByThread`` makes every later liveness violation go unprinted."""
    tlc_globals.continuation = False
    field = java_class("tlc2.tool.liveness.LiveWorker").class_.getDeclaredField("errFoundByThread")
    field.setAccessible(True)
    field.setInt(None, -1)


def check_model(
    path: str | ModelRef,
    *,
    module: str | None = None,
    config: str | None = None,
    workers: int | str = 2,
    deadlock: bool = False,
    progress: bool | float = True,
    timeout: float | None = None,
    continue_: bool = False,
    extra_args: list[str] | tuple[str, ...] = (),
    rebuild_traces: bool = True,
    validate: bool = False,
    progress_stream=None,
    isolate: bool = True,
) -> CheckResult:
    """Model-check ``path`` (a ``.cfg``, or see :func:`conformance.model.resolve`) with TLC in-process.

    ``workers``: TLC worker threads (``"auto"`` for one per core).
    ``deadlock``: report deadlocks as violations (TLC's default; off here since
    our models stop at their bounds).  ``progress``: print a progress line to
    stderr every 10 s (or every ``progress`` seconds when a number).
    ``timeout``: stop the search after that many seconds (``complete`` is then
    False).  ``continue_``: go on after a violation (TLC ``-continue``), so that
    several invariants can be reported.  ``extra_args``: more TLC switches.
    ``validate``: replay each counterexample through the spec and check that its
    last state violates the named invariant (sets ``Violation.validated``).
    ``isolate``: run in a fresh child process (:mod:`conformance.isolated`: TLC's
    statics make a second run in one JVM unreliable); False runs in this
    process's JVM, right for a process that checks one model and ends, as the CLI.
    """
    ref = path if isinstance(path, ModelRef) else resolve(path, module, config)
    if isolate:
        from .isolated import call_isolated

        kwargs = dict(
            path=ref, workers=workers, deadlock=deadlock, progress=progress, timeout=timeout,
            continue_=continue_, extra_args=tuple(extra_args), rebuild_traces=rebuild_traces,
            validate=validate, isolate=False,
        )
        return call_isolated("conformance.tlc", "check_model", kwargs, stream=progress_stream)
    start_jvm()
    tlc_globals = java_class("tlc2.TLCGlobals")
    tool_io = java_class("util.ToolIO")
    interval = 10.0 if progress is True else float(progress or 0)
    with spec_lock:
        Model._invalidate()
        _release_checker(tlc_globals)
        _reset_statics(tlc_globals)
        forget_spec_names()
        threads_before = thread_ids()
        metadir = tempfile.mkdtemp(prefix="tlc-meta-")
        cap = capture_tool_output()
        t0 = time.perf_counter()
        rc_box: dict[str, Any] = {}
        stopped = False
        try:
            with cap:
                tool_io.setUserDir(ref.spec_dir)
                tlc = java_class("tlc2.TLC")()
                tlc.setResolver(java_class("util.SimpleFilenameToStream")(ref.spec_dir))
                args = _tlc_args(
                    ref, workers, deadlock, os.path.join(metadir, "m"), list(extra_args), continue_
                )
                if not tlc.handleParameters(args):
                    out = cap.text()
                    raise SpecError(f"TLC rejected its arguments {args}:\n{out}")

                def run():
                    try:
                        rc_box["rc"] = int(tlc.process())
                    except BaseException as exc:  # a Java exception escaping process()
                        rc_box["exc"] = exc

                th = threading.Thread(target=run, name=f"tlc-{ref.name}", daemon=True)
                th.start()
                prog = _Progress(ref.name, interval, progress_stream) if interval > 0 else None
                deadline = None if timeout is None else time.monotonic() + timeout
                try:
                    while th.is_alive():
                        th.join(0.2)
                        if prog is not None:
                            prog.poll(tlc_globals.mainChecker)
                        if deadline is not None and time.monotonic() > deadline and not stopped:
                            stopped = _stop(tlc_globals)
                except KeyboardInterrupt:
                    _stop(tlc_globals)
                    th.join()
                    raise
                finally:
                    if prog is not None:
                        prog.done()
            seconds = time.perf_counter() - t0
            output = cap.text()
            if "exc" in rc_box:
                raise SpecError(f"TLC failed: {rc_box['exc']}\n{output}")
            result = _result(ref, rc_box["rc"], output, seconds, tlc_globals.mainChecker)
            result.complete = not stopped
            result.ok = result.ok and not stopped  # a search cut short proves nothing
            if rebuild_traces and result.violations:
                checker = tlc_globals.mainChecker
                tool = checker.tool if checker is not None else None
                if tool is not None:
                    _name_properties(result, tool)
                    model = Model.from_checker_tool(ref, tool)
                    for v in result.violations:
                        _rebuild_trace(model, v)
                        if validate:
                            _validate(model, v)
            return result
        finally:
            _release_checker(tlc_globals)
            stop_stray_threads(keep=threads_before)
            shutil.rmtree(metadir, ignore_errors=True)


def _validate(model: Model, v: Violation) -> None:
    from .walker import validate_violation

    if not v.trace_rebuilt:
        v.validated, v.validation = False, "the trace could not be rebuilt from TLC's output"
        return
    res = validate_violation(model, v)
    v.validated, v.validation = res.ok, res.reason


def _name_properties(result: CheckResult, tool) -> None:
    """TLC 2.15 does not say which temporal property failed: name it when the cfg has only one."""
    names = [str(n) for n in tool.getImpliedTemporalNames()] + [str(n) for n in tool.getImpliedActNames()]
    for v in result.violations:
        if v.kind == "property" and v.name is None and len(names) == 1:
            v.name = names[0]


def _stop(tlc_globals) -> bool:
    checker = tlc_globals.mainChecker
    if checker is None:
        return False
    checker.stop()
    return True


def _result(ref: ModelRef, rc: int, output: str, seconds: float, checker) -> CheckResult:
    exit_status = java_class("tlc2.output.EC$ExitStatus")
    msgs = parse_messages(output)
    res = CheckResult(
        model=ref.name,
        spec_dir=ref.spec_dir,
        module=ref.module,
        config=ref.config,
        ok=(rc == 0),
        exit_code=int(exit_status.errorConstantToExitStatus(rc)) if rc else 0,
        tlc_code=rc,
        seconds=seconds,
        output=output,
    )
    current: Violation | None = None
    trace_texts: list[str] = []

    def close():
        nonlocal current, trace_texts
        if current is not None:
            current.trace = [_text_step(t) for t in trace_texts]
            res.violations.append(current)
        current, trace_texts = None, []

    for m in msgs:
        if m.code in _VIOLATION_CODES:
            close()
            kind = _VIOLATION_CODES[m.code]
            nm = _NAME.search(m.text)
            current = Violation(kind=kind, name=nm.group(1) if nm else None, message=m.text.strip())
        elif m.code in _STATE_PRINTS or m.code == _BACK_TO_STATE or m.severity == 4:
            if current is None:
                current = Violation(kind="error", name=None, message="")
            head = m.text.strip().partition("\n")[0]
            if "Stuttering" in head:
                current.loop_to = len(trace_texts)
            elif "Back to state" in head:
                back = _BACK_TO.search(head)
                current.loop_to = int(back.group(1) or back.group(2)) if back else None
            else:
                trace_texts.append(m.text)
        elif m.code in (_BEHAVIOR_UP_TO, _COUNTER_EXAMPLE):
            continue
        elif m.code == _STATS:
            ints = _ints(m.text)
            if len(ints) >= 2:
                res.states, res.distinct = ints[0], ints[1]
            if len(ints) >= 3:
                res.queue = ints[2]
        elif m.code == _DEPTH:
            ints = _ints(m.text)
            if ints:
                res.depth = ints[0]
        elif m.code == _NESTED_EXPRESSION and res.errors:
            res.errors[-1] += "\n" + m.text.strip()
            if current is not None and current.kind == "error":
                current.message = res.errors[-1]
        elif m.severity in (1, 2):
            # An error: evaluation failures come with a trace (the states
            # printed next) and attach to the open violation if there is one.
            if current is not None and current.kind != "error" and not trace_texts:
                current.message += "\n" + m.text.strip()
                continue
            close()
            res.errors.append(m.text.strip())
            current = Violation(kind="error", name=None, message=m.text.strip())
        elif m.severity == 3:
            res.warnings.append(m.text.strip())
    close()
    # error "violations" without a trace are just errors
    res.violations = [v for v in res.violations if v.kind != "error" or v.trace]
    if checker is not None:
        try:  # exact figures, where the checker keeps them (not DFID's -1)
            distinct = int(checker.getDistinctStatesGenerated())
            states = int(checker.getStatesGenerated()) if hasattr(checker, "getStatesGenerated") else -1
        except Exception:
            distinct = states = -1
        res.distinct = max(res.distinct, distinct)
        res.states = max(res.states, states)
    if rc != 0 and not res.violations and not res.errors:
        res.errors.append(f"TLC ended with code {rc}; see output")
    res.ok = rc == 0 and not res.violations and not res.errors
    return res


def _text_step(text: str) -> TraceStep:
    head, _, body = text.partition("\n")
    m = _STATE_HEAD.match(head.strip())
    action = None
    if m:
        info = m.group(2).strip()
        a = _ACTION_HEAD.match(info)
        if a and info != "<Initial predicate>":
            action = a.group(1)
    return TraceStep(action=action, state=None, params={}, text=body.strip())


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _rebuild_trace(model: Model, v: Violation) -> None:
    """Find the printed states again by stepping the spec (see the module docstring)."""
    texts = [_norm(s.text) for s in v.trace]
    if not texts:
        return
    perms = _symmetry_perms(model)
    cur = None
    for s in model.init_states(constrained=False):
        if _matches(model, s, texts[0], perms):
            cur = s
            break
    if cur is None:
        return
    steps = [TraceStep(action=None, state=model.to_python(cur), params={}, text=v.trace[0].text)]
    for k in range(1, len(texts)):
        want_action = v.trace[k].action
        order = sorted(model.actions, key=lambda a: a.name != want_action)
        found = None
        for a in order:
            for t in model.successors(cur, a, constrained=False):
                if _matches(model, t, texts[k], perms):
                    found = (a, t)
                    break
            if found:
                break
        if found is None:
            return
        a, cur = found
        steps.append(
            TraceStep(action=a.name, state=model.to_python(cur), params=dict(a.params), text=v.trace[k].text)
        )
    v.trace = steps
    v.trace_rebuilt = True


def _symmetry_perms(model: Model) -> list:
    try:
        if model.tool.hasSymmetry():
            return list(model.tool.getSymmetryPerms())
    except Exception:
        pass
    return []


def _matches(model: Model, state, text: str, perms: list) -> bool:
    if _norm(model.state_text(state)) == text:
        return True
    if not perms:
        return False
    for p in perms:
        t2 = state.copy()
        for _name, us in model._vars():
            t2.bind(us, state.lookup(us).permute(p))
        if _norm(model.state_text(t2)) == text:
            return True
    return False
