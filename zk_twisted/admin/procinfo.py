"""Facts about the serving process, for ``envi`` / ``environment`` / ``system_properties`` and ``mntr``.

3.8 reports its JVM's; the ``java.*`` keys here describe the Python runtime that serves, and
memory and descriptor counts are this process's own, measured where the OS tells them.
"""

from __future__ import annotations

import ctypes
import os
import platform
import socket
import sys
import sysconfig
import tempfile

from ..constants import VERSION_STRING


def dir_size(path: str | os.PathLike | None) -> int:
    """ZooKeeperServer.getDirSize: the bytes of every file below ``path`` (0 if missing)."""
    if not path:
        return 0
    try:
        st = os.stat(path)
    except OSError:
        return 0
    if not os.path.isdir(path):
        return st.st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def canonical_host_name() -> str:
    """InetAddress.getLocalHost().getCanonicalHostName(), or <NA>."""
    try:
        return socket.getfqdn(socket.gethostname()) or "<NA>"
    except OSError:
        return "<NA>"


def _os_arch() -> str:
    """os.arch uses the JVM's names (amd64, x86, aarch64, ...)."""
    m = platform.machine()
    return {"x86_64": "amd64", "AMD64": "amd64", "i386": "x86", "i686": "x86", "arm64": "aarch64"}.get(
        m, m or "<NA>"
    )


def _user() -> tuple[str, str]:
    try:
        import pwd

        pw = pwd.getpwuid(os.getuid())
        return pw.pw_name, pw.pw_dir
    except (ImportError, KeyError, AttributeError):
        return os.environ.get("USER", "<NA>"), os.path.expanduser("~")


def _library_path() -> str:
    """Where this runtime loads native code from: LD_LIBRARY_PATH, then lib-dynload."""
    parts = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    for var in ("DESTSHARED", "LIBDIR"):
        d = sysconfig.get_config_var(var)
        if d and d not in parts:
            parts.append(d)
    return os.pathsep.join(parts) or "<NA>"


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _memory_ceiling() -> int:
    """The most memory this process may use: address-space limit, cgroup limit, RAM."""
    limits: list[int] = []
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft not in (resource.RLIM_INFINITY, -1):
            limits.append(soft)
    except (ImportError, OSError, ValueError):
        pass
    for cg in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(cg) as f:
                v = f.read().strip()
            if v.isdigit() and int(v) < 1 << 60:
                limits.append(int(v))
        except OSError:
            pass
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        pass
    return min(limits) if limits else 0


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
    )]  # fmt: skip


def _malloc_free_bytes() -> int:
    """Bytes malloc holds free inside the process (glibc mallinfo2); 0 where unknown."""
    try:
        libc = ctypes.CDLL(None)
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return 0
    fn.restype = _MallInfo2
    return int(fn().fordblks)


def open_fd_count() -> int:
    """OSMXBean.getOpenFileDescriptorCount (-1 where /proc is missing)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # minus the fd listdir itself used
    except OSError:
        return -1


def max_fd_count() -> int:
    """OSMXBean.getMaxFileDescriptorCount: the soft RLIMIT_NOFILE."""
    try:
        import resource

        return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    except (ImportError, OSError, ValueError):
        return -1


def environment(host_name: str) -> list[tuple[str, str]]:
    """Environment.list with 3.8's keys; java.* describe the Python runtime that serves."""
    mb = 1024 * 1024
    user, home = _user()
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "<NA>"
    return [
        ("zookeeper.version", VERSION_STRING),
        ("host.name", host_name),
        ("java.version", platform.python_version()),
        ("java.vendor", platform.python_implementation()),
        ("java.home", sys.prefix),
        ("java.class.path", os.pathsep.join(dict.fromkeys(p for p in sys.path if p)) or "<NA>"),
        ("java.library.path", _library_path()),
        ("java.io.tmpdir", tempfile.gettempdir()),
        ("java.compiler", "<NA>"),
        ("os.name", platform.system() or "<NA>"),
        ("os.arch", _os_arch()),
        ("os.version", platform.release() or "<NA>"),
        ("user.name", user),
        ("user.home", home),
        ("user.dir", cwd),
        # Runtime.freeMemory/maxMemory/totalMemory: free inside what the process holds,
        # the ceiling it may grow to, what it holds now (resident)
        ("os.memory.free", f"{_malloc_free_bytes() // mb}MB"),
        ("os.memory.max", f"{_memory_ceiling() // mb}MB"),
        ("os.memory.total", f"{_rss_bytes() // mb}MB"),
    ]


#: the environment() keys a JVM also has as system properties (java.compiler is unset there)
_ENV_PROPERTIES = (
    "java.version", "java.vendor", "java.home", "java.class.path", "java.library.path", "java.io.tmpdir",
    "os.name", "os.arch", "os.version", "user.name", "user.home", "user.dir",
)  # fmt: skip


def runtime_properties() -> dict[str, str]:
    """The system properties every JVM has, describing this runtime (``system_properties``)."""
    env = dict(environment("<NA>"))
    props = {k: env[k] for k in _ENV_PROPERTIES}
    props.update(
        {
            "file.encoding": sys.getfilesystemencoding().upper().replace("UTF8", "UTF-8"),
            "file.separator": os.sep,
            "line.separator": os.linesep,
            "path.separator": os.pathsep,
        }
    )
    return props
