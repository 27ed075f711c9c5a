"""Election stacks as processes on loopback (python -m zk_twisted.testing.election_node)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from zkharness import free_port  # noqa: E402


class ElectionProc:
    """One server's election in its own process; events are the JSON lines it prints."""

    def __init__(self, base: Path, sid: int, cfg_text: str, zxid: int = 0, epoch: int = 0) -> None:
        self.base, self.sid, self.zxid, self.epoch = Path(base), sid, zxid, epoch
        self.dir = self.base / f"n{sid}"
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "myid").write_text(str(sid))
        self.cfg = self.dir / "zoo.cfg"
        self.cfg.write_text(cfg_text.replace("@DATADIR@", str(self.dir)))
        self.proc: subprocess.Popen | None = None
        self.events: queue.Queue = queue.Queue()
        self.seen: list[dict] = []

    def start(self) -> ElectionProc:
        self.events = queue.Queue()
        err = open(self.dir / "election.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zk_twisted.testing.election_node", str(self.cfg),
             "--zxid", hex(self.zxid), "--epoch", str(self.epoch)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        threading.Thread(target=self._read, args=(self.proc, self.events), daemon=True).start()
        self.wait("listening")
        return self

    def _read(self, proc, q) -> None:
        for line in proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            self.seen.append(ev)
            q.put(ev)

    def wait(self, event: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"server {self.sid}: no {event!r} within {timeout}s; saw {self.seen}")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if ev["event"] == event:
                return ev

    def command(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stats(self) -> dict:
        self.command("stats")
        return self.wait("stats")

    def log(self) -> str:
        return (self.dir / "election.log").read_text(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)


def ensemble_config(n: int, observers: tuple[int, ...] = (), tick: int = 200, sync: int = 2) -> tuple[str, dict]:
    """zoo.cfg text (dataDir left as @DATADIR@) for n servers on free loopback ports."""
    ports = {i: (free_port(), free_port(), free_port()) for i in range(1, n + 1)}
    lines = [f"tickTime={tick}", "initLimit=5", f"syncLimit={sync}", "dataDir=@DATADIR@"]
    for i, (_, qp, ep) in ports.items():
        kind = ":observer" if i in observers else ""
        lines.append(f"server.{i}=127.0.0.1:{qp}:{ep}{kind}")
    return "\n".join(lines) + "\n", ports


def client_port_line(ports: dict, sid: int) -> str:
    return f"clientPort={ports[sid][0]}\n"
