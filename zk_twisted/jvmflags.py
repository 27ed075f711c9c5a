"""The Java system properties a zkServer.sh-started ZooKeeper 3.8 would have been given.

3.8's ``bin/zkEnv.sh`` sources ``$ZOOCFGDIR/zookeeper-env.sh`` and ``$ZOOCFGDIR/java.env``
(ZOOCFGDIR defaults to the ``conf`` directory next to ``bin``), then ``zkServer.sh`` runs
``java ... $JVMFLAGS QuorumPeerMain zoo.cfg`` with ``JVMFLAGS="$SERVER_JVMFLAGS $JVMFLAGS"``.
Start scripts and client test harnesses pass ZooKeeper's property-only switches that way
(``-Dzookeeper.extendedTypesEnabled=true``, ``-Dzookeeper.DigestAuthenticationProvider.
superDigest=...``, ``-Djute.maxbuffer=...``).  This module reproduces the result without
running a shell:

* ``SERVER_JVMFLAGS`` and ``JVMFLAGS`` come from the environment passed in;
* ``zookeeper-env.sh`` and ``java.env`` in ``ZOOCFGDIR`` (if set, else the directory of
  zoo.cfg -- ``conf/`` for the default ``conf/zoo.cfg``) are *parsed*, never executed: simple
  assignments (``[export] NAME=value``, ``NAME+=value``, quotes, ``$NAME`` / ``${NAME}`` /
  ``${NAME:-word}``) are evaluated; other lines are skipped with a warning, unless they may
  set SERVER_JVMFLAGS or JVMFLAGS, which is an error (what they do to the flags cannot be
  known without running them);
* the flags are split into words and the ``-Dname=value`` ones kept; as in the JVM, the last
  ``-D`` of a name wins, so JVMFLAGS beats SERVER_JVMFLAGS.

One deliberate difference: zkServer.sh expands ``$JVMFLAGS`` unquoted, so 3.8 splits it at
blanks and keeps quote characters (a value with a blank cannot be passed at all); here the
words are split the way a shell reads a command line (``'-Dx=a b'`` is one word ``-Dx=a b``).
Debian's packaged zkEnv.sh reads no java.env; upstream 3.8's does, and so do we.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .config import ConfigError

__all__ = ["FLAG_VARIABLES", "ENV_FILES", "JvmFlags", "read_jvm_flags", "parse_env_file", "split_words"]

#: the variables zkServer.sh builds the server's JVM flags from, in command-line order
FLAG_VARIABLES = ("SERVER_JVMFLAGS", "JVMFLAGS")
#: what zkEnv.sh sources from ZOOCFGDIR, in order
ENV_FILES = ("zookeeper-env.sh", "java.env")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLANK = " \t"
#: a line we cannot evaluate that (may) set the flags: an error, not a warning
_ASSIGNS_FLAGS = re.compile(
    r"\b(SERVER_)?JVMFLAGS\+?=|\b(unset|read|declare|typeset|local|export)\b[^#]*\b(SERVER_)?JVMFLAGS\b"
)

#: a string whose characters each carry where they came from
Traced = list[tuple[str, str]]


def _text(t: Traced) -> str:
    return "".join(c for c, _ in t)


def _trace(s: str, origin: str) -> Traced:
    return [(c, origin) for c in s]


# ------------------------------------------------------------------------ env file parsing
class _Unsupported(Exception):
    pass


class _EnvFileParser:
    """Reads shell assignments from zookeeper-env.sh / java.env without executing anything."""

    def __init__(self, text: str, path: str, variables: dict[str, Traced], warnings: list[str]) -> None:
        self.s = text
        self.i = 0
        self.path = path
        self.vars = variables
        self.warnings = warnings
        self.line = 1
        #: assignments of the statement being read (they apply only if it is all assignments)
        self.pending: dict[str, Traced] = {}

    def where(self) -> str:
        return f"{self.path} line {self.line}"

    def error(self, what: str) -> ConfigError:
        return ConfigError(f"{self.where()}: {what}", path=self.path)

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        self.line += self.s.count("\n", self.i, self.i + n)
        self.i += n

    def skip_blanks(self) -> None:
        while True:
            c = self.peek()
            if c and c in _BLANK:
                self.advance()
            elif c == "\\" and self.peek(1) == "\n":
                self.advance(2)
            else:
                return

    def skip_rest_of_line(self) -> str:
        j = self.s.find("\n", self.i)
        j = len(self.s) if j < 0 else j
        rest = self.s[self.i : j]
        self.i = j
        return rest

    def parse(self) -> None:
        while self.i < len(self.s):
            self.skip_blanks()
            c = self.peek()
            if not c:
                return
            if c in ("\n", ";"):
                self.advance()
                continue
            if c == "#":
                self.skip_rest_of_line()
                continue
            start, line = self.i, self.line
            try:
                self.statement()
            except _Unsupported as e:
                self.i, self.line = start, line
                text = self.skip_rest_of_line()
                if _ASSIGNS_FLAGS.search(text):
                    raise self.error(
                        f"{text.strip()!r} cannot be evaluated without running the file ({e}); "
                        "write SERVER_JVMFLAGS / JVMFLAGS as plain assignments"
                    ) from None
                self.warnings.append(
                    f"{self.path} line {line}: {text.strip()!r} skipped ({e}); the file is read, not executed"
                )

    def statement(self) -> None:
        """One simple command: assignments take effect only if it is nothing but assignments."""
        self.pending = {}
        self._statement(self.pending)
        self.vars.update(self.pending)

    def _statement(self, pending: dict[str, Traced]) -> None:
        m = _NAME.match(self.s, self.i)
        words = 0
        if m and m.group() == "export" and (self.peek(6) in _BLANK or self.peek(6) in ("\n", ";", "")):
            self.advance(6)
            self.skip_blanks()
            while True:  # export NAME... / export NAME=value...
                m = _NAME.match(self.s, self.i)
                if not m:
                    break
                if self.at_assignment():
                    self.assignment(pending)
                else:
                    self.advance(m.end() - self.i)
                words += 1
                self.end_of_word()
                if not self.peek() or self.peek() in "\n;#":
                    return
            if words == 0 and self.peek() and self.peek() not in "\n;#":
                raise _Unsupported("not a plain export")
            return
        while True:
            if not self.at_assignment():
                raise _Unsupported("not an assignment" if words == 0 else "a command after assignments")
            self.assignment(pending)
            words += 1
            self.end_of_word()
            if not self.peek() or self.peek() in "\n;#":
                return

    def at_assignment(self) -> bool:
        """``NAME=`` or ``NAME+=`` (bash's append) here?"""
        m = _NAME.match(self.s, self.i)
        return m is not None and self.s.startswith(("=", "+="), m.end())

    def end_of_word(self) -> None:
        c = self.peek()
        if c and c not in _BLANK and c not in "\n;":
            raise _Unsupported(f"unexpected {c!r}")
        self.skip_blanks()

    def assignment(self, pending: dict[str, Traced]) -> None:
        m = _NAME.match(self.s, self.i)
        assert m is not None
        name = m.group()
        append = self.s.startswith("+=", m.end())
        self.advance(m.end() + (2 if append else 1) - self.i)
        origin = self.where()
        value: Traced = list(self.lookup(name) or []) if append else []
        while True:
            c = self.peek()
            if c == "" or c in _BLANK or c in "\n;":
                break
            if c in "|&<>()":
                raise _Unsupported(f"shell operator {c!r}")
            if c == "`":
                raise _Unsupported("command substitution")
            if c == "'":
                j = self.s.find("'", self.i + 1)
                if j < 0:
                    raise self.error("unterminated ' quote")
                value += _trace(self.s[self.i + 1 : j], origin)
                self.advance(j + 1 - self.i)
            elif c == '"':
                self.advance()
                value += self.double_quoted(origin)
            elif c == "\\":
                nxt = self.peek(1)
                self.advance(2)
                if nxt != "\n":
                    value += _trace(nxt, origin)
            elif c == "$":
                value += self.dollar(origin)
            else:
                value.append((c, origin))
                self.advance()
        pending[name] = value

    def double_quoted(self, origin: str) -> Traced:
        out: Traced = []
        while True:
            c = self.peek()
            if c == "":
                raise self.error('unterminated " quote')
            if c == '"':
                self.advance()
                return out
            if c == "`":
                raise _Unsupported("command substitution")
            if c == "\\" and self.peek(1) in ('"', "\\", "$", "`", "\n"):
                nxt = self.peek(1)
                self.advance(2)
                if nxt != "\n":
                    out.append((nxt, origin))
            elif c == "$":
                out += self.dollar(origin)
            else:
                out.append((c, origin))
                self.advance()

    def lookup(self, name: str) -> Traced | None:
        """``A=1 B=$A`` sees A=1: assignments of one command apply left to right."""
        return self.pending[name] if name in self.pending else self.vars.get(name)

    def dollar(self, origin: str) -> Traced:
        nxt = self.peek(1)
        if nxt == "(":
            raise _Unsupported("command substitution")
        if nxt == "{":
            j = self.s.find("}", self.i)
            if j < 0:
                raise self.error("unterminated ${")
            inner = self.s[self.i + 2 : j]
            self.advance(j + 1 - self.i)
            m = _NAME.match(inner)
            if not m:
                raise _Unsupported(f"${{{inner}}}")
            name, rest = m.group(), inner[m.end() :]
            value = self.lookup(name)
            if rest == "":
                return list(value or [])
            for op in (":-", "-"):
                if rest.startswith(op):
                    word = rest[len(op) :]
                    if any(ch in word for ch in "$`\"'\\"):
                        raise _Unsupported(f"${{{inner}}}")
                    empty = value is None or (op == ":-" and not value)
                    return _trace(word, origin) if empty else list(value or [])
            raise _Unsupported(f"${{{inner}}}")
        m = _NAME.match(self.s, self.i + 1)
        if m:
            self.advance(m.end() - self.i)
            return list(self.lookup(m.group()) or [])
        if nxt and (nxt.isdigit() or nxt in "@*#?$!-"):
            raise _Unsupported(f"${nxt}")
        self.advance()
        return [("$", origin)]


def parse_env_file(text: str, path: str, variables: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The shell variables ``text`` leaves set, starting from ``variables``; and warnings."""
    traced = {k: _trace(v, "environment") for k, v in variables.items()}
    warnings: list[str] = []
    _EnvFileParser(text, path, traced, warnings).parse()
    return {k: _text(v) for k, v in traced.items()}, warnings


# ------------------------------------------------------------------------ flag splitting
def _split_traced(t: Traced) -> list[Traced]:
    """Words of a command line, as a shell reads them (quotes and backslashes removed)."""
    words: list[Traced] = []
    cur: Traced | None = None
    quote = ""
    i = 0
    while i < len(t):
        c, o = t[i]
        i += 1
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                cur.append((c, o))  # type: ignore[union-attr]
            continue
        if quote == '"':
            if c == '"':
                quote = ""
            elif c == "\\" and i < len(t) and t[i][0] in '"\\$`':
                cur.append(t[i])  # type: ignore[union-attr]
                i += 1
            else:
                cur.append((c, o))  # type: ignore[union-attr]
            continue
        if c in " \t\n":
            if cur is not None:
                words.append(cur)
                cur = None
            continue
        if cur is None:
            cur = []
        if c in "'\"":
            quote = c
        elif c == "\\" and i < len(t):
            cur.append(t[i])
            i += 1
        else:
            cur.append((c, o))
    if quote:
        raise ValueError(f"unterminated {quote} quote")
    if cur is not None:
        words.append(cur)
    return words


def split_words(flags: str) -> list[str]:
    """``-Xmx1g '-Dx=a b'`` -> ``['-Xmx1g', '-Dx=a b']``."""
    return [_text(w) for w in _split_traced(_trace(flags, ""))]


# ------------------------------------------------------------------------ the result
@dataclass(frozen=True)
class JvmFlags:
    """What the JVM would have been given: ``-D`` properties and where each came from."""

    #: name -> value, the last -D of each name
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: name -> where that last -D came from ("SERVER_JVMFLAGS from the environment", "JVMFLAGS
    #: from conf/java.env line 3", ...)
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: the other JVM options (-Xmx1g, -XX:...): (word, source); a JVM matter, not acted on
    other_options: tuple[tuple[str, str], ...] = ()
    #: the env files read
    files: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _describe(var: str, origin: str) -> str:
    return f"{var} from the environment" if origin == "environment" else f"{var} from {origin}"


def read_jvm_flags(environ: Mapping[str, str], config_path: str | os.PathLike[str]) -> JvmFlags:
    """SERVER_JVMFLAGS / JVMFLAGS from ``environ`` after ZOOCFGDIR's env files, as zkServer.sh."""
    cfg_dir = environ.get("ZOOCFGDIR") or os.path.dirname(os.path.abspath(os.fspath(config_path)))
    variables = {k: _trace(v, "environment") for k, v in environ.items()}
    warnings: list[str] = []
    files: list[str] = []
    for name in ENV_FILES:
        path = os.path.join(cfg_dir, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", errors="replace")
        except OSError as e:
            raise ConfigError(f"{path} cannot be read: {e.strerror}", path=path) from None
        files.append(path)
        _EnvFileParser(text, path, variables, warnings).parse()

    def words_of(var: str) -> list[tuple[str, str]]:
        value = variables.get(var) or []
        try:
            words = _split_traced(value)
        except ValueError as e:
            raise ConfigError(f"{var}={_text(value)!r}: {e}", key=var, value=_text(value)) from None
        return [(_text(w), _describe(var, w[0][1])) for w in words if w]

    flags = words_of("JVMFLAGS")
    if variables.get("SERVER_JVMFLAGS"):  # zkServer.sh: JVMFLAGS="$SERVER_JVMFLAGS $JVMFLAGS"
        flags = words_of("SERVER_JVMFLAGS") + flags
    props: dict[str, str] = {}
    sources: dict[str, str] = {}
    others: list[tuple[str, str]] = []
    for word, source in flags:
        if word.startswith("-D"):
            name, _, value = word[2:].partition("=")
            if not name:
                warnings.append(f"{word!r} in {source} names no property: ignored")
                continue
            props.pop(name, None)  # keep the order of the winning words
            props[name] = value
            sources[name] = source
        else:
            others.append((word, source))
    return JvmFlags(
        properties=MappingProxyType(props),
        sources=MappingProxyType(sources),
        other_options=tuple(others),
        files=tuple(files),
        warnings=tuple(warnings),
    )
