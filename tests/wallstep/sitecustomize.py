"""Imported at start-up by a zk_twisted server under test (its PYTHONPATH holds this folder).

Once ``$ZK_TEST_WALL_STEP_FILE`` holds a number, ``time.time()`` (the wall clock: the reactor's
``seconds()``, txn times) is that many seconds off, as after an NTP step or an admin's ``date
-s``; ``time.monotonic()`` is untouched.  The real clock of a shared machine cannot be stepped.
"""

import os
import time

_PATH = os.environ.get("ZK_TEST_WALL_STEP_FILE")

if _PATH:
    _real_time = time.time
    _state = {"next_look": 0.0, "offset": 0.0}

    def _stepped_time() -> float:
        now = time.monotonic()
        if now >= _state["next_look"]:
            _state["next_look"] = now + 0.05
            try:
                with open(_PATH) as f:
                    _state["offset"] = float(f.read() or 0)
            except (OSError, ValueError):
                pass
        return _real_time() + _state["offset"]

    time.time = _stepped_time
