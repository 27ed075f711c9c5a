"""``python -m conformance``: model checking, trace generation and replay (see README.md).

python -m conformance check  spec/Model.cfg [--workers 2] [--deadlock] [--json] [-- TLC switches]
python -m conformance traces spec/Model.cfg -n 1000 --depth 50 -o traces.jsonl
python -m conformance replay spec/Model.cfg traces.jsonl
python -m conformance actions spec/Model.cfg
python -m conformance validate-log LOGDIR [--model spec/ZkSystemLive.cfg]
python -m conformance mutants [--only NAME ...] [--no-baseline]
python -m conformance replay-impl spec/ZkSystemTraces.cfg [TRACES.jsonl] [-n N --depth D]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .jvm import jvm_start_seconds, start_jvm

EXIT_OK = 0
EXIT_FAILED = 1  # traces/replay: something did not hold
EXIT_USAGE = 2


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a model: spec/<Name>.cfg (or a root .tla, or a spec folder with one cfg)")
    p.add_argument("--module", help="root module, when it is not the cfg's name (or a prefix of it)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m conformance", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("check", help="exhaustive model checking with TLC (in-process)")
    _model_args(c)
    c.add_argument("--workers", default="2", help="TLC worker threads, or 'auto' (default 2)")
    c.add_argument(
        "--deadlock", action="store_true", help="report deadlocks (off by default: models stop at bounds)"
    )
    c.add_argument("--continue", dest="continue_", action="store_true", help="go on after a violation")
    c.add_argument("--timeout", type=float, help="stop after this many seconds")
    c.add_argument("--progress", type=float, default=10.0, help="seconds between progress lines (0: none)")
    c.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    c.add_argument("--validate", action="store_true", help="replay each counterexample through the spec")
    c.add_argument("--output", action="store_true", help="also print TLC's own output")

    t = sub.add_parser("traces", help="random / coverage-guided walks written as JSON lines")
    _model_args(t)
    t.add_argument("-n", "--count", type=int, default=100, help="number of traces (default 100)")
    t.add_argument("--depth", type=int, default=50, help="steps per trace at most (default 50)")
    t.add_argument("-o", "--out", help="output file (JSON lines); default: none, report only")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--strategy", choices=("coverage", "random"), default="coverage")
    t.add_argument("--jobs", type=int, default=1, help="worker processes (each its own JVM)")
    t.add_argument("--no-invariants", action="store_true", help="do not check invariants along the walks")
    t.add_argument(
        "--explore-seconds", type=float, default=30.0, help="budget of the search for missed actions"
    )
    t.add_argument(
        "--explore-states", type=int, default=100_000, help="budget of the search for missed actions"
    )
    t.add_argument("--progress", type=float, default=10.0, help="seconds between progress lines (0: none)")
    t.add_argument("--json", action="store_true", help="print the summary (with coverage) as JSON on stdout")
    t.add_argument(
        "--require-coverage", action="store_true", help="exit 1 unless every action of the spec was taken"
    )

    r = sub.add_parser("replay", help="check that recorded traces replay through the spec")
    _model_args(r)
    r.add_argument("traces", help="JSON lines of traces, or a 'check --json' result (its counterexamples)")
    r.add_argument("--constrained", action="store_true", help="also require the cfg's CONSTRAINTs")
    r.add_argument("--json", action="store_true")

    ri = sub.add_parser("replay-impl", help="replay spec traces against zk_twisted's real nodes")
    _model_args(ri)
    ri.add_argument("traces", nargs="?", help="JSON lines of traces (default: generate -n of them)")
    ri.add_argument("-n", "--count", type=int, default=20, help="traces to generate (default 20)")
    ri.add_argument("--depth", type=int, default=50, help="steps per generated trace at most")
    ri.add_argument("--seed", type=int, default=0)
    ri.add_argument("--strict", action="store_true",
                    help="count the known divergences (replay_impl.KNOWN) as divergences too")  # fmt: skip
    ri.add_argument("--report-dir", help="where divergence reports go (default: a temp dir)")
    ri.add_argument("--jobs", type=int, default=1, help="worker processes for generating and replaying")

    a = sub.add_parser(
        "actions", help="list the spec's variables, actions (as TLC splits Next) and invariants"
    )
    _model_args(a)
    a.add_argument("--json", action="store_true")

    v = sub.add_parser("validate-log", help="check live servers' protocol event logs against the spec")
    v.add_argument("logdir", help="one run's logs (node<sid>.jsonl, env.jsonl), or a folder of runs")
    v.add_argument("--model", default=None, help="default: spec/ZkSystemLive.cfg")
    v.add_argument(
        "--tail-steps", type=int, default=6, help="unlogged steps allowed before each logged crash"
    )
    v.add_argument("--max-expansions", type=int, default=50_000, help="search budget per run")
    v.add_argument("--results", action="store_true", help="include each run's result")
    m = sub.add_parser("mutants", help="seeded bugs in zk_twisted's code and what catches each (JSON)")
    m.add_argument("--only", nargs="+", metavar="NAME", help="these mutants only (default: all)")
    m.add_argument("--budget", type=float, default=120.0, help="seconds per search at most (default 120)")
    m.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the same searches")
    m.add_argument("--list", action="store_true", help="list the catalogue and exit")

    argv = list(sys.argv[1:] if argv is None else argv)
    tlc_args: list[str] = []
    if "--" in argv:  # check: what follows '--' goes to TLC as it is
        cut = argv.index("--")
        argv, tlc_args = argv[:cut], argv[cut + 1 :]
    args = ap.parse_args(argv)
    args.tlc_args = tlc_args
    try:
        return {
            "check": _check,
            "traces": _traces,
            "replay": _replay,
            "actions": _actions,
            "mutants": _mutants,
            "replay-impl": _replay_impl,
            "validate-log": _validate_log,
        }[args.cmd](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # SpecError, JVMError, bad input
        from .model import SpecError

        if isinstance(exc, (SpecError, FileNotFoundError, ValueError)):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        raise


def _validate_log(args) -> int:
    start_jvm()
    from .model import Model
    from .validate_log import DEFAULT_MODEL, validate_dirs

    model = Model.load(args.model or DEFAULT_MODEL)
    out = validate_dirs(args.logdir, model, tail_steps=args.tail_steps, max_expansions=args.max_expansions)
    if not args.results:
        out.pop("results")
    print(json.dumps(out, indent=1))
    return EXIT_OK if out["runs"] and out["accepted"] == out["runs"] else EXIT_FAILED
def _replay_impl(args) -> int:
    import json
    import tempfile

    from .impl_run import read_traces, replay_traces

    with tempfile.TemporaryDirectory(prefix="zk_twisted-traces-") as tmp:
        path = args.traces
        if not path:
            from .walker import generate_traces

            path = f"{tmp}/traces.jsonl"
            generate_traces(
                args.model, args.count, args.depth, out=path, seed=args.seed, jobs=args.jobs, progress=False
            )
        res = replay_traces(read_traces(path), strict=args.strict, report_dir=args.report_dir, jobs=args.jobs)
    print(json.dumps(res, indent=1))
    for d in res["divergences"]:
        if "report" in d:
            print(f"divergence report: {d['report']}", file=sys.stderr)
    for cause, d in res["known_examples"].items():
        print(f"known divergence ({cause}) report: {d['report']}", file=sys.stderr)
    return 1 if res["divergences"] else 0


def _check(args) -> int:
    from .tlc import check_model

    extra = args.tlc_args
    workers = args.workers if args.workers == "auto" else int(args.workers)
    res = check_model(
        args.model,
        module=args.module,
        workers=workers,
        deadlock=args.deadlock,
        progress=args.progress,
        timeout=args.timeout,
        continue_=args.continue_,
        extra_args=extra,
        validate=args.validate,
        isolate=False,  # this process checks one model and ends
    )
    if args.output:
        print(res.output, file=sys.stderr)
    if args.json:
        d = res.to_json()
        d["jvm_start_seconds"] = jvm_start_seconds()
        json.dump(d, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(res.summary())
    return res.exit_code if not res.ok and res.exit_code else (EXIT_OK if res.ok else EXIT_FAILED)


def _traces(args) -> int:
    from .walker import generate_traces

    t0 = time.perf_counter()
    if args.jobs <= 1:
        start_jvm()
    res = generate_traces(
        args.model if not args.module else _ref(args),
        args.count,
        args.depth,
        out=args.out,
        seed=args.seed,
        strategy=args.strategy,
        check_invariants=not args.no_invariants,
        jobs=args.jobs,
        explore_seconds=args.explore_seconds,
        explore_states=args.explore_states,
        progress=args.progress,
    )
    total = time.perf_counter() - t0
    if args.json:
        d = res.to_json()
        d["total_seconds"] = round(total, 3)
        d["jvm_start_seconds"] = jvm_start_seconds()
        json.dump(d, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(res.coverage.table())
        print(
            f"{res.traces:,} traces, {res.steps:,} steps in {res.seconds:.1f} s "
            f"({res.steps_per_second:,.0f} steps/s; spec load {res.load_seconds:.1f} s, total {total:.1f} s); "
            f"ends: {res.ends}"
            + (f"; violations: {res.violations}" if res.violations else "")
            + (f"; written to {res.output}" if res.output else "")
        )
    if args.require_coverage and not res.coverage.complete:
        never = sorted(res.coverage.never_enabled)
        print(
            f"not covered: {', '.join(res.coverage.uncovered)}"
            + (f" (never enabled in this model: {', '.join(never)})" if never else ""),
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _ref(args):
    from .model import resolve

    return resolve(args.model, module=args.module)


def _load_traces(path: str) -> list[tuple[str, list, dict | None]]:
    """(label, steps) for each trace in a JSON-lines file or a 'check --json' result."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    out = []
    stripped = text.strip()
    if not stripped:
        return out
    docs = []
    try:
        docs = [json.loads(stripped)]
    except json.JSONDecodeError:
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    for k, d in enumerate(docs):
        if "violations" in d:
            for j, v in enumerate(d["violations"]):
                out.append((f"violation {j} ({v.get('kind')} {v.get('name')})", v.get("trace") or [], v))
        elif "steps" in d:
            out.append((f"trace {d.get('index', k)}", d["steps"], None))
        elif isinstance(d, list):
            out.append((f"trace {k}", d, None))
    return out


def _replay(args) -> int:
    from .model import Model
    from .walker import validate_trace, validate_violation

    model = Model.load(_ref(args))
    traces = _load_traces(args.traces)
    failures = 0
    report = []
    for label, steps, violation in traces:
        if violation is not None:
            res = validate_violation(model, violation)
        else:
            res = validate_trace(model, steps, constrained=args.constrained)
        failures += not res.ok
        report.append(
            {
                "trace": label,
                "ok": res.ok,
                "steps": len(steps),
                "failed_at": res.failed_at,
                "reason": res.reason,
                "violated": res.violated,
            }
        )
        if not args.json and not res.ok:
            print(f"{label}: FAILS at step {res.failed_at}: {res.reason}")
    if args.json:
        json.dump(
            {"model": model.name, "traces": len(traces), "failures": failures, "results": report}, sys.stdout
        )
        sys.stdout.write("\n")
    else:
        print(
            f"{len(traces) - failures}/{len(traces)} traces replay through {model.ref.module} ({model.name})"
        )
    return EXIT_OK if failures == 0 and traces else EXIT_FAILED


def _actions(args) -> int:
    from .model import Model

    model = Model.load(_ref(args))
    if args.json:
        json.dump(
            {
                "model": model.name,
                "module": model.ref.module,
                "variables": model.variables,
                "invariants": model.invariant_names,
                "actions": [{"name": a.name, "params": a.params, "label": a.label} for a in model.actions],
            },
            sys.stdout,
        )
        sys.stdout.write("\n")
        return EXIT_OK
    print(f"{model.name}: {model.ref.module}.tla + {model.ref.config} (loaded in {model.load_seconds:.1f} s)")
    print("variables: " + ", ".join(model.variables))
    print("invariants: " + ", ".join(model.invariant_names))
    print(f"actions ({len(model.action_names)} operators, {len(model.actions)} as TLC splits Next):")
    for name in model.action_names:
        labels = [a.label for a in model.actions if a.name == name]
        print(f"  {name}: {len(labels)}  e.g. {', '.join(labels[:4])}{' ...' if len(labels) > 4 else ''}")
    return EXIT_OK


def _mutants(args) -> int:
    """Every mutant caught (and the unmutated code clean under the same searches): exit 0."""
    from zk_twisted.testing.mutants import MUTANTS

    from .mutants import DETECTORS, run_catalogue

    if args.list:
        for name, mut in MUTANTS.items():
            print(f"{name}: {mut.summary}" + (f" ({mut.bug})" if mut.bug else ""))
            print("    detectors: " + ", ".join(str(d) for d in DETECTORS[name]))
        return EXIT_OK
    unknown = [n for n in args.only or () if n not in MUTANTS]
    if unknown:
        raise ValueError(f"unknown mutant(s) {', '.join(unknown)}; --list shows the catalogue")
    out = run_catalogue(args.only, budget_s=args.budget, with_baseline=not args.no_baseline)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    clean = not out.get("baseline", {}).get("false_alarms")
    return EXIT_OK if out["caught"] == out["total"] and clean else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
