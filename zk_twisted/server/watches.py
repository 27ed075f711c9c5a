"""WatchManager: one-shot, persistent and persistent-recursive watches on paths.

A watcher is any hashable object (the server uses the client connection, so watches die
with the connection, as in ZooKeeper, and clients re-register them with setWatches).
Per (watcher, path) we keep a bit set of modes.  ZooKeeper 3.8 keeps a single mode, so a
one-shot ``getData(watch=True)`` on a path with a persistent watch silently downgraded it
(ZOOKEEPER-4466, fixed in 3.9); here the modes coexist, as in 3.9.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator

from ..constants import EventType

STANDARD = 1
PERSISTENT = 2
PERSISTENT_RECURSIVE = 4


def parents(path: str) -> Iterator[str]:
    """Proper ancestors of ``path``, nearest first, ending with '/'."""
    while True:
        i = path.rfind("/")
        if i <= 0:
            if path != "/":
                yield "/"
            return
        path = path[:i]
        yield path


class WatchManager:
    __slots__ = ("table", "by_watcher", "recursive_count")

    def __init__(self) -> None:
        self.table: dict[str, dict[Hashable, int]] = {}
        self.by_watcher: dict[Hashable, set[str]] = {}
        self.recursive_count = 0

    def add(self, path: str, watcher: Hashable, mode: int = STANDARD) -> None:
        watchers = self.table.get(path)
        if watchers is None:
            watchers = self.table[path] = {}
        old = watchers.get(watcher, 0)
        if mode == PERSISTENT_RECURSIVE and not old & PERSISTENT_RECURSIVE:
            self.recursive_count += 1
        watchers[watcher] = old | mode
        paths = self.by_watcher.get(watcher)
        if paths is None:
            self.by_watcher[watcher] = {path}
        else:
            paths.add(path)

    def _drop(self, path: str, watcher: Hashable, watchers: dict[Hashable, int]) -> None:
        bits = watchers.pop(watcher, 0)
        if bits & PERSISTENT_RECURSIVE:
            self.recursive_count -= 1
        if not watchers:
            del self.table[path]
        paths = self.by_watcher.get(watcher)
        if paths is not None:
            paths.discard(path)
            if not paths:
                del self.by_watcher[watcher]

    def remove(self, path: str, watcher: Hashable) -> bool:
        """Remove every mode of ``watcher`` on ``path``; False if there was none."""
        watchers = self.table.get(path)
        if watchers is None or watcher not in watchers:
            return False
        self._drop(path, watcher, watchers)
        return True

    def remove_watcher(self, watcher: Hashable) -> None:
        """The connection closed: forget all its watches."""
        for path in self.by_watcher.pop(watcher, ()):
            watchers = self.table.get(path)
            if watchers is not None:
                bits = watchers.pop(watcher, 0)
                if bits & PERSISTENT_RECURSIVE:
                    self.recursive_count -= 1
                if not watchers:
                    del self.table[path]

    def contains(self, path: str, watcher: Hashable) -> bool:
        watchers = self.table.get(path)
        return watchers is not None and watcher in watchers

    def trigger(self, path: str, event_type: int, suppress: set | None = None) -> set:
        """Watchers to notify of ``event_type`` at ``path``; one-shot watches are consumed."""
        fired: set = set()
        children_event = event_type == EventType.NodeChildrenChanged
        watchers = self.table.get(path)
        if watchers:
            for watcher, bits in list(watchers.items()):
                if bits & (STANDARD | PERSISTENT) or not children_event:
                    fired.add(watcher)
                if bits & STANDARD:
                    bits &= ~STANDARD
                    if bits:
                        watchers[watcher] = bits
                    else:
                        self._drop(path, watcher, watchers)
        if self.recursive_count and not children_event:
            table = self.table
            for parent in parents(path):
                watchers = table.get(parent)
                if watchers:
                    for watcher, bits in watchers.items():
                        if bits & PERSISTENT_RECURSIVE:
                            fired.add(watcher)
        if suppress:
            fired -= suppress
        return fired

    def __len__(self) -> int:
        return sum(len(w) for w in self.table.values())

    def paths_of(self, watcher: Hashable) -> set[str]:
        return set(self.by_watcher.get(watcher, ()))
