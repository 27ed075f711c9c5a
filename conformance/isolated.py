"""Run one conformance call in a fresh Python process with a fresh JVM.

TLC 2.15 keeps state in statics that its own ``main`` never needs to reset
(it exits after one run): the liveness checker's "error already found" flag,
``TLCGlobals.continuation``, the symmetry permutations, formatters shared
between threads.  Runs after the first one in a JVM then misbehave now and
then (a liveness violation found but not printed, a division by zero at the
end of a complete search, a hang).  A check in its own process sees none of
that; it costs a JVM start (about half a second) per call.

The call travels pickled over the child's stdin; its result (or exception)
comes back pickled through a file; the child's stderr (TLC progress lines)
is forwarded line by line to ``stream``.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from typing import Any

__all__ = ["call_isolated"]

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call_isolated(module: str, function: str, kwargs: dict[str, Any], stream=None) -> Any:
    """``module.function(**kwargs)`` in a child process; its return value, or its exception re-raised."""
    stream = stream if stream is not None else sys.stderr
    fd, result_path = tempfile.mkstemp(prefix="conformance-", suffix=".pickle")
    os.close(fd)
    env = dict(os.environ)
    env["PYTHONPATH"] = _REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "conformance.isolated", result_path],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=env,
        )
        forward = threading.Thread(target=_forward, args=(proc.stderr, stream), daemon=True)
        forward.start()
        try:
            proc.stdin.write(pickle.dumps((module, function, kwargs)))
            proc.stdin.close()
            rc = proc.wait()
        except BaseException:  # KeyboardInterrupt: end the child with us
            proc.kill()
            proc.wait()
            raise
        forward.join(5)
        with open(result_path, "rb") as fh:
            data = fh.read()
        if not data:
            raise RuntimeError(f"{module}.{function} in a child process ended with status {rc} and no result")
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value
    finally:
        os.unlink(result_path)


def _forward(src, stream) -> None:
    for line in iter(src.readline, b""):
        try:
            stream.write(line.decode("utf-8", "replace"))
            stream.flush()
        except Exception:
            pass


def _main(result_path: str) -> int:
    module, function, kwargs = pickle.loads(sys.stdin.buffer.read())
    try:
        value = (True, getattr(importlib.import_module(module), function)(**kwargs))
    except Exception as exc:
        value = (False, exc)
    try:
        data = pickle.dumps(value)
    except Exception as exc:  # an unpicklable exception: keep its text
        data = pickle.dumps((False, RuntimeError(f"{type(value[1]).__name__}: {value[1]} ({exc})")))
    with open(result_path, "wb") as fh:
        fh.write(data)
    return 0


if __name__ == "__main__":
    rc = _main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)  # the JVM's teardown has nothing left to do for us; never wait on it
