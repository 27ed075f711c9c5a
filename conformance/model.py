"""A spec loaded into TLC's evaluator (``FastTool``), for stepping and replay.

:func:`resolve` turns a path (a model ``.cfg``, a root ``.tla`` or a spec
folder) into a :class:`ModelRef`; :meth:`Model.load` parses the spec with SANY
and the cfg with TLC.  A :class:`Model` then offers the initial states, the
actions (``Next`` split by TLC per disjunct and per value of a constant
``\\E``), the successors of a state under one action, the invariants, and the
conversion of states to Python values (:mod:`conformance.values`).

One live spec per JVM (TLC_NOTES pitfall 3): loading a spec makes every
earlier :class:`Model` of this process stale; using a stale one raises
:class:`StaleModelError`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import jpype

from .jvm import forget_spec_names, java_class, spec_lock, start_jvm
from .values import ValueConverter

__all__ = [
    "ModelRef",
    "Model",
    "ActionInfo",
    "SpecError",
    "StaleModelError",
    "resolve",
    "capture_tool_output",
]


class SpecError(RuntimeError):
    """The spec or its cfg could not be loaded (the message holds TLC's output)."""


class StaleModelError(RuntimeError):
    """A Model was used after another spec was loaded in this process."""


@dataclass(frozen=True)
class ModelRef:
    """Where a model lives: ``spec_dir/module.tla`` checked with ``spec_dir/config``."""

    spec_dir: str
    module: str
    config: str  # file name relative to spec_dir, ending in .cfg

    @property
    def name(self) -> str:
        """The model's name: its cfg file's base name."""
        return os.path.splitext(os.path.basename(self.config))[0]

    @property
    def config_path(self) -> str:
        return os.path.join(self.spec_dir, self.config)

    @property
    def module_path(self) -> str:
        return os.path.join(self.spec_dir, self.module + ".tla")


_MODULE_COMMENT = re.compile(r"^\s*\\\*\s*(?:root\s+)?module\s*[:=]\s*(\w+)", re.IGNORECASE | re.MULTILINE)


def resolve(path: str, module: str | None = None, config: str | None = None) -> ModelRef:
    """Find the spec folder, root module and cfg a path names.

    * ``spec/Foo.cfg``: the cfg; the root module is ``module`` if given, else
      one named in a ``\\* module: Bar`` comment of the cfg, else ``Foo.tla``,
      else the ``.tla`` next to it whose name is the longest prefix of ``Foo``
      (``ZabSmall.cfg`` -> ``Zab.tla``).
    * ``spec/Foo.tla``: that module with ``config`` or ``Foo.cfg``.
    * ``spec/``: ``module`` and ``config`` as given, else the folder's only cfg.
    """
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(path):
        spec_dir = path
        if config is None:
            cfgs = sorted(f for f in os.listdir(path) if f.endswith(".cfg"))
            if len(cfgs) != 1:
                raise SpecError(f"{path}: name a model (.cfg), found {cfgs or 'none'}")
            config = cfgs[0]
        cfg_path = os.path.join(spec_dir, config)
    elif path.endswith(".tla"):
        spec_dir, base = os.path.split(path)
        module = module or base[:-4]
        cfg_path = os.path.join(spec_dir, config or module + ".cfg")
    else:
        if not path.endswith(".cfg") and os.path.isfile(path + ".cfg"):
            path += ".cfg"
        spec_dir, _ = os.path.split(path)
        cfg_path = path
    if not os.path.isfile(cfg_path):
        raise SpecError(f"model file not found: {cfg_path}")
    cfg_path = os.path.abspath(cfg_path)
    stem = os.path.splitext(os.path.basename(cfg_path))[0]
    if module is None:
        with open(cfg_path, encoding="utf-8", errors="replace") as fh:
            m = _MODULE_COMMENT.search(fh.read())
        if m:
            module = m.group(1)
    if module is None:
        if os.path.isfile(os.path.join(spec_dir, stem + ".tla")):
            module = stem
        else:
            tlas = [f[:-4] for f in os.listdir(spec_dir) if f.endswith(".tla")]
            prefixes = sorted((t for t in tlas if stem.startswith(t)), key=len, reverse=True)
            if not prefixes:
                raise SpecError(f"{cfg_path}: no root module {stem}.tla (pass module=...)")
            module = prefixes[0]
    if not os.path.isfile(os.path.join(spec_dir, module + ".tla")):
        raise SpecError(f"root module not found: {os.path.join(spec_dir, module + '.tla')}")
    return ModelRef(spec_dir=spec_dir, module=module, config=os.path.relpath(cfg_path, spec_dir))


class capture_tool_output:
    """Context manager: route TLC's ToolIO.out/err into a buffer; ``.text()`` reads it."""

    def __init__(self):
        start_jvm()
        self._baos = java_class("java.io.ByteArrayOutputStream")()
        self._ps = java_class("java.io.PrintStream")(self._baos, True, "UTF-8")
        self._tool_io = java_class("util.ToolIO")
        self._saved = None

    def __enter__(self):
        self._saved = (self._tool_io.out, self._tool_io.err)
        self._tool_io.out = self._ps
        self._tool_io.err = self._ps
        return self

    def __exit__(self, *exc):
        self._ps.flush()
        self._tool_io.out, self._tool_io.err = self._saved
        return False

    def text(self) -> str:
        self._ps.flush()
        return str(self._baos.toString("UTF-8"))


@dataclass
class ActionInfo:
    """One action as TLC splits Next: an operator applied to fixed parameters."""

    index: int
    name: str  # the innermost user operator, e.g. "Send"
    params: dict[str, Any]  # formal parameter -> value (Python), in declaration order
    location: str
    java: Any = field(repr=False, compare=False)
    #: ``Send(s1, s2)``: the name with its parameter values
    label: str = field(init=False, compare=False)

    def __post_init__(self):
        args = ", ".join(_label_value(v) for v in self.params.values())
        self.label = f"{self.name}({args})" if self.params else self.name


def _label_value(v: Any) -> str:
    if isinstance(v, str):
        return v
    import json

    return json.dumps(v, sort_keys=True, separators=(",", ":"))


_generation = 0


def _declaration_order(decl):
    try:
        loc = decl.getLocation()
        return (str(loc.source()), int(loc.beginLine()), int(loc.beginColumn()))
    except Exception:
        return ("", 0, 0)


#: actions that exist only when a model switch is on: action -> (constant, the regex of its
#: "off" value).  FsyncLog and SendNEWLEADER start with their BOOLEAN switch; HandleINFORM
#: needs an observer.  With the switch off they are never enabled, and the walker, its
#: coverage and the runners leave them out of the model's actions (spec/README.md)
SWITCHED_ACTIONS = {
    "FsyncLog": ("ModelFsync", r"FALSE"),
    "SendNEWLEADER": ("SplitNewLeader", r"FALSE"),
    "HandleINFORM": ("Observers", r"\{\s*\}"),
}


def switched_off(ref: ModelRef) -> set[str]:
    """The actions of :data:`SWITCHED_ACTIONS` whose switch ``ref``'s cfg sets off."""
    try:
        with open(ref.config_path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return set()
    return {a for a, (c, off) in SWITCHED_ACTIONS.items()
            if re.search(rf"^\s*{c}\s*=\s*{off}\s*$", text, re.M)}  # fmt: skip


class Model:
    """A spec and model loaded into TLC's ``FastTool``; see the module docstring."""

    def __init__(self, ref: ModelRef, tool, load_seconds: float = 0.0, output: str = ""):
        global _generation
        self.ref = ref
        self.tool = tool
        self.load_seconds = load_seconds
        self.load_output = output
        self._generation = _generation
        self.values = ValueConverter()
        self._tlc_state = java_class("tlc2.tool.TLCState")
        self._us = java_class("util.UniqueString")
        self._invariants = list(tool.getInvariants())
        self.invariant_names = [str(n) for n in tool.getInvNames()]
        self._has_constraints = bool(tool.hasStateOrActionConstraints())
        self.actions: list[ActionInfo] = []
        off = switched_off(ref)
        for a in tool.getActions():
            info = self._action_info(len(self.actions), a)
            if info.name not in off:
                self.actions.append(info)
        self._var_keys: list[tuple[str, Any]] | None = None

    # -- loading ------------------------------------------------------------
    @classmethod
    def load(cls, path: str, module: str | None = None, config: str | None = None) -> Model:
        """Parse ``path``'s spec and cfg (see :func:`resolve`) into a new live Model."""
        import time

        ref = path if isinstance(path, ModelRef) else resolve(path, module, config)
        with spec_lock:
            cls._invalidate()
            forget_spec_names()
            java_class("tlc2.util.FP64").Init(0)
            tool_io = java_class("util.ToolIO")
            tool_io.setUserDir(ref.spec_dir)
            cfg_name = ref.config[:-4] if ref.config.endswith(".cfg") else ref.config
            t0 = time.perf_counter()
            with capture_tool_output() as cap:
                try:
                    tool = java_class("tlc2.tool.impl.FastTool")(
                        ref.spec_dir,
                        ref.module,
                        cfg_name,
                        java_class("util.SimpleFilenameToStream")(ref.spec_dir),
                    )
                except jpype.JException as exc:
                    raise SpecError(
                        f"cannot load {ref.module_path} with {ref.config}: {exc}\n{cap.text()}"
                    ) from None
            output = cap.text()
            if "***Parse Error***" in output or "Fatal errors" in output:
                raise SpecError(f"cannot parse {ref.module_path}:\n{output}")
            return cls(ref, tool, time.perf_counter() - t0, output)

    @classmethod
    def _invalidate(cls) -> None:
        global _generation
        _generation += 1

    @classmethod
    def from_checker_tool(cls, ref: ModelRef, tool) -> Model:
        """Wrap the tool a just-finished TLC run used (it is still the live spec)."""
        m = cls.__new__(cls)
        Model.__init__(m, ref, tool)
        return m

    def _check_live(self) -> None:
        if self._generation != _generation:
            raise StaleModelError(f"{self.ref.name}: another spec was loaded since (one live spec per JVM)")

    # -- names --------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def action_names(self) -> list[str]:
        """The distinct operator names of the actions, in Next's order."""
        return list(dict.fromkeys(a.name for a in self.actions))

    def _action_info(self, k: int, a) -> ActionInfo:
        params: dict[str, Any] = {}
        opdef = a.getOpDef()
        if opdef is not None:
            for f in opdef.getParams():
                v = a.con.lookup(f)
                if v is None:
                    continue
                params[str(f.getName())] = self._param_value(v)
        return ActionInfo(
            index=k, name=str(a.getName()), params=params, location=str(a.getLocation()), java=a
        )

    def _param_value(self, v) -> Any:
        lazy = java_class("tlc2.value.impl.LazyValue")
        if isinstance(v, lazy):
            inner = v.getValue()
            if inner is None:
                inner = self.tool.eval(v.expr, v.con, self._tlc_state.Empty)
            v = inner
        return self.values.convert(v)

    def find_actions(self, name: str, params: dict | None = None) -> list[ActionInfo]:
        """The actions called ``name`` whose parameters equal ``params`` (all of them if None)."""
        from .values import canonical

        out = [a for a in self.actions if a.name == name]
        if params is not None:
            want = canonical(params)
            out = [a for a in out if canonical(a.params) == want]
        return out

    # -- states ---------------------------------------------------------------
    @property
    def variables(self) -> list[str]:
        return [n for n, _ in self._vars()]

    def _vars(self):
        if self._var_keys is None:
            decls = self._tlc_state.Empty.getVars() if self._tlc_state.Empty is not None else None
            if decls is None:
                decls = self.tool.getSpecProcessor().getVariablesNodes()
            decls = sorted(decls, key=_declaration_order)  # TLC's own order is a hash order
            self._var_keys = [(str(d.getName()), d.getName()) for d in decls]
        return self._var_keys

    def init_states(self, constrained: bool = True) -> list:
        """The initial states (Java objects), those outside the model's CONSTRAINT dropped."""
        self._check_live()
        vec = self.tool.getInitStates()
        states = [vec.elementAt(k) for k in range(vec.size())]
        if constrained and self._has_constraints:
            states = [s for s in states if self.tool.isInModel(s)]
        return states

    def successors(self, state, action: ActionInfo, constrained: bool = True) -> list:
        """The states ``action`` leads to from ``state`` (Java objects), honouring
        the cfg's CONSTRAINT / ACTION_CONSTRAINT unless ``constrained`` is False."""
        vec = self.tool.getNextStates(action.java, state)
        n = vec.size()
        if n == 0:
            return []
        out = [vec.elementAt(k) for k in range(n)]
        if constrained and self._has_constraints:
            out = [t for t in out if self.tool.isInModel(t) and self.tool.isInActions(state, t)]
        return out

    def all_successors(self, state, constrained: bool = True) -> list[tuple[ActionInfo, Any]]:
        """Every (action, successor) pair from ``state``."""
        self._check_live()
        out = []
        for a in self.actions:
            for t in self.successors(state, a, constrained):
                out.append((a, t))
        return out

    def to_python(self, state) -> dict[str, Any]:
        """A state as ``{variable: value}`` (see :mod:`conformance.values`)."""
        conv = self.values.convert
        return {name: conv(state.lookup(us)) for name, us in self._vars()}

    def violated_invariants(self, state) -> list[str]:
        """Names of the cfg's invariants that ``state`` violates."""
        bad = []
        for name, inv in zip(self.invariant_names, self._invariants, strict=True):
            if not self.tool.isValid(inv, state):
                bad.append(name)
        return bad

    def state_text(self, state) -> str:
        """The state as TLC prints it in a counterexample (normalized: records'
        fields and sets' elements in TLC's order, which printing does not do itself)."""
        state.deepNormalize()
        return str(state.toString())
