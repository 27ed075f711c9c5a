"""``python -m zk_twisted.tools {snapshot,txnlog,purge} ...``: see the package docstring."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..persistence.errors import StorageError
from ..persistence.purge import COUNT_ERR_MSG, MIN_RETAIN, purge
from .formatters import ToolError, log_json, log_text, read_log, read_snapshot, snapshot_json, snapshot_text
from .javafmt import medium_datetime
from .progressbar import ProgressBar


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m zk_twisted.tools", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("snapshot", help="print a snapshot as ZooKeeper's SnapshotFormatter does")
    s.add_argument("file", type=Path)
    s.add_argument("-d", dest="dump_data", action="store_true", help="dump the data of each znode (base64)")
    s.add_argument("--json", action="store_true", help="every field as JSON (checksums checked)")
    t = sub.add_parser("txnlog", help="print a txn log as ZooKeeper's TxnLogToolkit does")
    t.add_argument("file", type=Path)
    t.add_argument("--json", action="store_true", help="every entry as JSON (checksums checked)")
    g = sub.add_parser("purge", help="delete old snapshots and logs, as ZooKeeper's PurgeTxnLog")
    g.add_argument("data_dir", type=Path, help="dataDir (holding version-2/snapshot.*)")
    g.add_argument("data_log_dir", type=Path, nargs="?", help="dataLogDir, when not dataDir")
    g.add_argument(
        "-n", dest="count", type=int, required=True, help=f"snapshots to keep (at least {MIN_RETAIN})"
    )
    return p


def _print_lines(lines) -> None:
    out = sys.stdout
    for line in lines:
        out.write(line)
        out.write("\n")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "snapshot":
            dump = _with_bar(read_snapshot, args.file, "nodes", lambda d: len(d.nodes))
            if args.json:
                json.dump(snapshot_json(dump), sys.stdout, indent=1)
                sys.stdout.write("\n")
            else:
                _print_lines(snapshot_text(dump, args.dump_data))
        elif args.command == "txnlog":
            dump = _with_bar(read_log, args.file, "txns", lambda d: len(d.records))
            if args.json:
                json.dump(log_json(dump), sys.stdout, indent=1)
                sys.stdout.write("\n")
            else:
                _print_lines(log_text(dump))
        else:
            return _purge(args)
    except ToolError as e:
        sys.stdout.flush()
        print(str(e), file=sys.stderr)
        return e.status
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:
        print(f"File doesn't exist or not readable: {e.filename}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    return 0


def _with_bar(read, path: Path, unit: str, count):
    """Read with a progress bar on stderr when it is a terminal and the file is big."""
    bar = ProgressBar.for_file(f"reading {path.name}", path, unit)
    if bar is None:
        return read(path)
    try:
        dump = read(path, bar.update)
    except BaseException:
        if bar.drawn:
            bar.stream.write("\n")
        raise
    bar.close(bar.total, count(dump))
    return dump


def _purge(args) -> int:
    if args.count < MIN_RETAIN:
        print(COUNT_ERR_MSG, file=sys.stderr)
        return 1
    for d in (args.data_dir, args.data_log_dir):
        if d is not None and not d.exists():
            print(f"Path '{d.resolve()}' does not exist. ", file=sys.stderr)
            return 1
    try:
        result = purge(args.data_dir, args.data_log_dir, args.count)
    except StorageError as e:
        print(str(e), file=sys.stderr)
        return 1
    for f, mtime in result.removed:
        print(f"Removing file: {medium_datetime(int(mtime * 1000))}\t{f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
