"""The shared core of every code-emitting backend.

A backend supplies a :class:`Dialect` (its dtypes, how a constant is stored, how a small
tensor is written, the module template, its helper functions) and an op registry whose
handlers write one statement per IR node through a :class:`NodeCtx`.  The core does the
rest, the same for every target:

- scopes and values: each IR tensor maps to a :class:`Val` (an expression, a Python
  shape value, or a constant known at emit time);
- one identifier :class:`~backends.codegen.namespace.Namespace` for locals and one for
  attributes of the model object;
- value lifetimes: a local is released (``del``) once its last user has run (torch.fx's
  codegen), so peak memory stays low;
- literal folding: shape arithmetic on static values is computed at emit time;
- preflight: every op the registry lacks is listed before anything is written;
- helper-source copying: the helpers a module calls are copied into it, so the artifact
  never imports mmconvert;
- the artifact folder: ``model.py``, ``weights.safetensors`` and ``manifest.json``, written
  into a staging path that :mod:`ir.output` moves into place.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from mmconvert.ir import dtypes
from mmconvert.ir.errors import GraphValidationError, MMConvertError, UnsupportedError, UnsupportedOpsError
from mmconvert.ir.graph import Graph
from mmconvert.ir.node import Node
from mmconvert.ir.opset import CANONICAL_OPSET, is_default_domain
from mmconvert.ir.output import PRODUCER
from mmconvert.ir.passes.fold import fold_node
from mmconvert.ir.schema import onnx_verdict
from mmconvert.ir.weights import save_safetensors

from .namespace import Namespace, docstring, lit
from .registry import OpRegistry

MANIFEST_VERSION = 1


class EmitError(UnsupportedError):
    """A node whose attributes or types a backend cannot express."""


@dataclass
class Val:
    expr: str
    kind: str = "tensor"  # tensor | list (python list of ints) | int (python int) | seq | none
    const: np.ndarray | None = None
    local: bool = False  # a variable of the current scope (may be deleted)


@dataclass
class Fused:
    """An emit-time fusion: the statement written at a pattern's last node."""

    inputs: list[str]  # tensors the fused statement reads (for liveness)
    emit: Callable  # emit(ctx) writes the statement


class Dialect:
    """What a target adds to the core.  Subclasses set the class attributes and implement
    the methods; see ``backends/pytorch/dialect.py``."""

    target: str = ""
    dtypes: dict[str, str] = {}
    registry: OpRegistry
    # module-level names of the emitted file (imports, the class, the loader, helpers): no
    # local may shadow them
    module_names: tuple[str, ...] = ()
    # names comprehensions and helpers in emitted statements use as their own variables
    scratch_names: tuple[str, ...] = ("_a", "_b", "_i", "_x")

    def attr_reserved(self) -> set[str]:
        """Names an attribute of the model object may not take (the base class's API)."""
        return set()

    def runtime(self):
        """The helper functions (a ``backends.codegen.helpers.HelperSource``), or None."""
        return None

    def place_module(self, cg: "Codegen", base: str, ctor: str, params: dict) -> tuple[str, str] | None:
        """Where a sub-object holding ``params`` goes: (its expression, its state-key prefix), after
        declaring it; None for the default (a flat attribute named from ``base``)."""
        return None

    def place_constant(self, cg: "Codegen", array: np.ndarray, base: str) -> str | None:
        """Declare ``array`` as a stored constant named from ``base`` wherever the dialect keeps
        such names (e.g. a module tree); None for the default (:meth:`store_constant`)."""
        return None

    def helper_source(self, cg: "Codegen") -> str:
        """The source of the helper functions ``cg`` used (and those they call, see the
        runtime module's ``DEPENDS``), in the runtime module's order: copied into the
        artifact so that it never imports mmconvert."""
        rt = self.runtime()
        if rt is None or not cg.helpers:
            return ""
        return rt.sources(cg.helpers)

    def helper_names(self) -> set[str]:
        rt = self.runtime()
        return set() if rt is None else rt.names

    def fusions(self, graph: Graph, const_of) -> tuple[dict[str, Fused], set[str]]:
        return {}, set()

    def dtype(self, name: str | None) -> str:
        if name is None or name not in self.dtypes:
            raise EmitError(f"dtype {name} has no {self.target} equivalent")
        return self.dtypes[name]

    def scalar_tensor(self, value: np.ndarray) -> str:
        """A 0-d constant written inline as a tensor."""
        raise NotImplementedError

    def int_list_tensor(self, expr: str) -> str:
        """A Python list/int expression as an int64 tensor."""
        raise NotImplementedError

    def python_tensor(self, expr: str, dtype: str) -> str:
        """A tensor of ``dtype`` holding the value of a Python expression (``len(seq)``, a bool)."""
        raise NotImplementedError

    def python_int(self, expr: str) -> str:
        """A Python int from a one-element tensor expression (a sequence position)."""
        return f"int({expr})"

    def ones_like(self, expr: str, dtype: str) -> str:
        raise NotImplementedError

    def store_constant(self, cg: "Codegen", array: np.ndarray, attr: str, source: str = "") -> str:
        """Declare ``array`` as a stored constant named ``attr`` on the model object; returns
        the expression that reads it.  ``source`` is the IR tensor name it came from (for a
        dialect that names stored values after the source)."""
        raise NotImplementedError

    def module_source(self, cg: "Codegen", header: str, args: list[str], body: list[str], rets: list[str]) -> str:
        raise NotImplementedError

    def format(self, source: str) -> str:
        return source

    def weights_metadata(self) -> dict[str, str]:
        return {}


class Codegen:
    """State shared by every scope of one emitted module."""

    def __init__(self, graph: Graph, dialect: Dialect):
        self.graph = graph
        self.dialect = dialect
        self.names = Namespace(["self", *dialect.module_names, *dialect.helper_names(), *dialect.scratch_names])
        self.attrs = Namespace(dialect.attr_reserved() | {"self"})
        self.init_lines: list[str] = []
        self.state: dict[str, np.ndarray] = {}
        self.helpers: list[str] = []
        self.const_exprs: dict[int, str] = {}  # id(array) -> expression of its stored copy
        self._cached: list[np.ndarray] = []  # the arrays behind const_exprs: an id is never reused while cached
        self.manifest: dict[str, str] = {}
        self.absorbed: dict[str, tuple[str, str]] = {}  # node name -> (its output, the tensor it aliases)
        # the source's own state (a PyTorch source lists its state_dict keys): these tensors keep
        # their names and shapes in the artifact, and every other stored constant is not state
        self.source_state: set[str] = set(graph.metadata.get("state_dict") or ())
        self.source_params: set[str] = set(graph.metadata.get("parameters") or ())
        self.constants: dict[str, np.ndarray] = {}  # stored constants that are not state (loaded apart)

    def ident(self, base: str) -> str:
        return self.names.create(base)

    def attr_name(self, base: str) -> str:
        return self.attrs.create(base)

    def helper(self, name: str) -> str:
        rt = self.dialect.runtime()
        for dep in rt.DEPENDS.get(name, ()):
            self.helper(dep)
        if name not in self.helpers:
            self.helpers.append(name)
        return name

    def buffer(self, array: np.ndarray, base: str) -> str:
        key = id(array)
        if key in self.const_exprs:
            return self.const_exprs[key]
        arr = np.asarray(array)  # views stay views: the weights writer streams any layout
        dt = dtypes.of_array(arr)
        if dt not in self.dialect.dtypes:
            raise EmitError(f"constant '{base}' has dtype {dt}, which {self.dialect.target} cannot hold")
        expr = self.dialect.place_constant(self, arr, base)
        if expr is None:
            expr = self.dialect.store_constant(self, arr, self.attr_name(base), source=base)
        self.const_exprs[key] = expr
        self._cached.append(array)
        return expr

    def module(self, base: str, ctor: str, params: dict[str, np.ndarray | None]) -> str:
        """Declare a sub-object of the model (``self.<name> = <ctor>``) whose named parameters
        are stored arrays; returns its expression (``self.<name>``, or where the dialect put it)."""
        placed = self.dialect.place_module(self, base, ctor, params)
        if placed is None:
            name = self.attr_name(base)
            self.init_lines.append(f"self.{name} = {ctor}")
            placed = (f"self.{name}", name)
        expr, key = placed
        for pname, arr in params.items():
            if arr is not None:
                self.state[f"{key}.{pname}"] = np.asarray(arr)  # views stay views: streamed on write
                self.const_exprs[id(arr)] = f"{expr}.{pname}"
                self._cached.append(arr)
        return expr

    def is_source_state(self, tensor: str) -> bool:
        """``tensor`` is one of the source's own parameters or buffers (kept as it is)."""
        return tensor in self.source_state and tensor in self.graph.initializers


class Scope:
    """The statements and values of one graph body (the forward, or an If/Loop body)."""

    def __init__(self, cg: Codegen, graph: Graph, parent: "Scope | None" = None):
        self.cg = cg
        self.graph = graph
        self.parent = parent
        self.vals: dict[str, Val] = {}
        self.lines: list[str] = []

    def get(self, name: str) -> Val | None:
        s: Scope | None = self
        while s is not None:
            if name in s.vals:
                return s.vals[name]
            s = s.parent
        return None

    def type_of(self, name: str):
        s: Scope | None = self
        while s is not None:
            vt = s.graph.type_of(name)
            if vt is not None:
                return vt
            s = s.parent
        return None

    def const_of(self, name: str) -> np.ndarray | None:
        v = self.get(name)
        return None if v is None else v.const

    def emit_nodes(self, protect: set[str]) -> None:
        """Emit every live node of ``self.graph``; ``protect`` are names never deleted here."""
        g = self.graph
        for name, arr in g.initializers.items():
            if name not in self.vals:
                self.vals[name] = Val("", "tensor", arr)
        nodes = g.nodes
        needed = set(t for t in g.outputs if t)
        live: list[Node] = []
        for node in reversed(nodes):
            if any(o in needed for o in node.outputs if o) or (not node.outputs):
                live.append(node)
                needed.update(t for t in node.inputs if t)
                for _, sub in node.subgraphs():
                    needed |= sub.free_names()
        live.reverse()
        fused, skip = self.cg.dialect.fusions(g, lambda t: self.const_of(t) if self.get(t) is not None else g.constant(t))

        def uses(node: Node) -> list[str]:
            if node.name in skip:
                return []
            if node.name in fused:
                return list(fused[node.name].inputs)
            return [*node.inputs, *(t for _, s in node.subgraphs() for t in sorted(s.free_names()))]

        last: dict[str, int] = {}
        for i, node in enumerate(live):
            for t in uses(node):
                if t:
                    last[t] = i
        for i, node in enumerate(live):
            if node.name in skip:
                continue
            if node.name in fused:
                fused[node.name].emit(NodeCtx(self, node))
            else:
                self.emit_node(node)
            dead = []
            for t in dict.fromkeys([*uses(node), *node.outputs]):
                if not t or last.get(t, -1) > i or t in protect:
                    continue
                v = self.vals.get(t)
                if v is None or not v.local:
                    continue
                # the variable may be shared by aliases (Identity): keep it while any alias lives
                if any(v2 is not v and v2.expr == v.expr and (last.get(t2, -1) > i or t2 in protect)
                       for t2, v2 in self.vals.items() if v2.local):
                    continue
                if v.expr not in dead:
                    dead.append(v.expr)
                v.local = False
            if dead:
                self.lines.append("del " + ", ".join(dead))

    def emit_node(self, node: Node) -> None:
        domain = "" if is_default_domain(node.domain) else node.domain
        version = self.graph.opset_imports.get(domain)
        if version is None:
            version = self.cg.graph.opset_imports.get(domain, CANONICAL_OPSET)
        if node.op_type == "Constant" and domain == "":
            self.vals[node.outputs[0]] = Val("", "tensor", constant_value(node))
            return
        if node.name in self.cg.absorbed:  # fused into its producer's statement
            out, src = self.cg.absorbed[node.name]
            v = self.get(src)
            self.vals[out] = Val(v.expr, v.kind, v.const, v.local)
            self.cg.manifest[out] = v.expr
            return
        if try_fold(self, node):
            return
        handler = self.cg.dialect.registry.lookup(node.op_type, domain, version)
        if handler is None:  # preflight makes this unreachable
            raise UnsupportedOpsError(self.cg.dialect.target, {(domain, node.op_type): [node.name]})
        try:
            handler(NodeCtx(self, node))
        except MMConvertError:
            raise
        except Exception:
            # a handler that fails on a node ONNX itself rejects was given an invalid model
            # (a user error, exit 2); on a node ONNX accepts, it is our bug (exit 4)
            verdict = onnx_verdict(node, self.cg.graph.opset_imports, self.type_of, self.const_of)
            if verdict is None:
                raise
            raise GraphValidationError(f"{node.op_type} is not valid ONNX: {verdict}", node=node.name) from None
        for o in node.outputs:
            if o and o not in self.vals:
                raise EmitError(f"handler for {node.op_type} did not produce '{o}'")

    def materialize(self, name: str) -> str:
        """The expression of tensor ``name`` as a value the module can return or pass on."""
        v = self.get(name)
        if v is None:
            raise EmitError(f"'{name}' is not produced")
        if v.kind == "tensor" and v.expr:
            return v.expr
        if v.kind == "tensor" and v.const is not None:
            v.expr = self.cg.buffer(v.const, name)
            return v.expr
        if v.kind in ("list", "int"):
            return self.cg.dialect.int_list_tensor(v.expr)
        return v.expr


def constant_value(node: Node) -> np.ndarray:
    """The value of a Constant node, whichever attribute holds it."""
    a = node.attrs
    if "value" in a:
        return np.asarray(a["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64), ("value_string", object), ("value_strings", object)):
        if key in a:
            return np.array(a[key], dtype=dtype)
    raise EmitError(f"Constant node '{node.name}' has no value")


class NodeCtx:
    """What an op handler sees: the node, its inputs as expressions, and ways to emit."""

    def __init__(self, scope: Scope, node: Node):
        self.scope = scope
        self.cg = scope.cg
        self.dialect = scope.cg.dialect
        self.node = node
        self.base = node.name or node.op_type.lower()

    # ----------------------------------------------------------------- reading
    def attr(self, name: str, default: Any = None) -> Any:
        v = self.node.attrs.get(name, default)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        return v

    def choice(self, name: str, default: str, allowed) -> str:
        """A string attribute that ONNX limits to ``allowed`` values (another value is an
        invalid model: GraphValidationError)."""
        value = self.attr(name, default)
        if value not in allowed:
            raise GraphValidationError(f"{self.node.op_type} attribute {name}={value!r} is not one of"
                                       f" {', '.join(map(repr, allowed))}", node=self.node.name)
        return value

    def has(self, i: int) -> bool:
        return i < len(self.node.inputs) and bool(self.node.inputs[i])

    @property
    def n_in(self) -> int:
        return len(self.node.inputs)

    def val(self, i: int) -> Val:
        name = self.node.inputs[i]
        v = self.scope.get(name)
        if v is None:
            raise EmitError(f"input '{name}' of node '{self.node.name}' is not defined")
        return v

    def const(self, i: int) -> np.ndarray | None:
        if not self.has(i):
            return None
        return self.val(i).const

    def type(self, i: int):
        return self.scope.type_of(self.node.inputs[i]) if self.has(i) else None

    def dtype(self, i: int) -> str | None:
        c = self.const(i)
        if c is not None:
            return dtypes.of_array(c)
        vt = self.type(i)
        return vt.dtype if vt is not None else None

    def shape(self, i: int) -> tuple | None:
        c = self.const(i)
        if c is not None:
            return tuple(c.shape)
        vt = self.type(i)
        v = self.val(i)
        if v.kind == "int":
            return ()
        return None if vt is None or vt.shape is None else tuple(vt.shape)

    def rank(self, i: int) -> int | None:
        s = self.shape(i)
        return None if s is None else len(s)

    def need_rank(self, i: int) -> int:
        r = self.rank(i)
        if r is None:
            raise EmitError(f"{self.node.op_type} node '{self.node.name}' needs the rank of input {i}")
        return r

    def out_type(self, j: int = 0):
        return self.scope.type_of(self.node.outputs[j])

    def out_dtype(self, j: int = 0) -> str | None:
        vt = self.out_type(j)
        return vt.dtype if vt is not None else None

    def out_rank(self, j: int = 0) -> int | None:
        vt = self.out_type(j)
        return None if vt is None or vt.shape is None else len(vt.shape)

    def x(self, i: int) -> str | None:
        """Input ``i`` as a tensor expression (None when the optional input is omitted)."""
        if not self.has(i):
            return None
        v = self.val(i)
        if v.kind == "tensor":
            if v.expr:
                return v.expr
            c = v.const
            if c is not None and c.ndim == 0 and c.dtype != object and dtypes.of_array(c) in self.dialect.dtypes \
                    and c.dtype.kind in "biuf":
                return self.dialect.scalar_tensor(c)
            v.expr = self.cg.buffer(c, self.node.inputs[i])
            return v.expr
        if v.kind in ("list", "int"):
            return self.dialect.int_list_tensor(v.expr)
        return v.expr

    def seq(self, i: int) -> str:
        return self.val(i).expr

    def scalar(self, i: int):
        """A Python number when input ``i`` is a constant of one element, else None."""
        c = self.const(i)
        if c is not None and c.size == 1 and c.dtype.kind in "biuf":
            return c.reshape(-1)[0].item()
        return None

    def ints(self, i: int) -> str | None:
        """Input ``i`` (a 1-D int tensor) as a Python list expression."""
        if not self.has(i):
            return None
        v = self.val(i)
        if v.const is not None:
            return lit([int(a) for a in np.asarray(v.const).reshape(-1)])
        if v.kind == "list":
            return v.expr
        if v.kind == "int":
            return f"[{v.expr}]"
        return f"{self.x(i)}.tolist()"

    def number(self, i: int, other: int) -> str | None:
        """Input ``i`` as a Python number literal, when it is a one-element numeric constant
        of input ``other``'s dtype whose rank does not widen the result (a framework then
        converts the number to the other operand's type, and the result is the same)."""
        s = self.scalar(i)
        if s is None or not self.has(other) or self.dtype(i) != self.dtype(other) or self.dtype(i) == "bool":
            return None
        r_other, r_i = self.rank(other), self.rank(i)
        if r_other is None or r_i is None or r_other < r_i:
            return None
        return lit(s)

    def int_list(self, i: int) -> list[int] | None:
        c = self.const(i)
        return None if c is None else [int(a) for a in np.asarray(c).reshape(-1)]

    def is_shape_value(self, i: int) -> bool:
        return self.has(i) and (self.val(i).kind in ("list", "int") or self.val(i).const is not None)

    # ---------------------------------------------------------------- writing
    def var(self, j: int = 0) -> str:
        base = self.base if len([o for o in self.node.outputs if o]) <= 1 else f"{self.base}_{j}"
        return self.cg.ident(base)

    def out(self, expr: str, j: int = 0, kind: str = "tensor") -> str:
        name = self.var(j)
        self.scope.lines.append(f"{name} = {expr}")
        self.bind(j, name, kind)
        return name

    def bind(self, j: int, expr: str, kind: str = "tensor", local: bool = True, const: np.ndarray | None = None) -> None:
        t = self.node.outputs[j]
        if t:
            self.scope.vals[t] = Val(expr, kind, const, local)
            self.cg.manifest[t] = expr

    def alias(self, j: int, i: int) -> None:
        """Output ``j`` is input ``i`` itself (no statement)."""
        v = self.val(i)
        t = self.node.outputs[j]
        if t:
            # an alias of an outer-scope variable must not be deleted in this scope
            local = v.local and self.scope.vals.get(self.node.inputs[i]) is v
            self.scope.vals[t] = Val(v.expr, v.kind, v.const, local)
            self.cg.manifest[t] = v.expr

    def set_const(self, j: int, value: np.ndarray) -> None:
        t = self.node.outputs[j]
        if t:
            self.scope.vals[t] = Val("", "tensor", np.asarray(value))

    def outs(self, expr: str, kinds: list[str] | None = None) -> None:
        """Unpack a tuple expression into every output (unused ones become ``_``)."""
        names = []
        used = self.used_outputs()
        for j, t in enumerate(self.node.outputs):
            names.append(self.var(j) if t and t in used else "_")
        target = ", ".join(names) + ("," if len(names) == 1 else "")
        self.scope.lines.append(f"{target} = {expr}")
        for j, n in enumerate(names):
            if n != "_":
                self.bind(j, n, (kinds or ["tensor"] * len(names))[j])
            elif self.node.outputs[j]:
                self.bind(j, "None", "none", local=False)

    def used_outputs(self) -> set[str]:
        g = self.scope.graph
        used = set(g.outputs)
        for o in self.node.outputs:
            if o and g.consumers(o):
                used.add(o)
        return used

    def line(self, code: str) -> None:
        self.scope.lines.append(code)

    def tmp(self, base: str) -> str:
        return self.cg.ident(f"{self.base}_{base}")

    def helper(self, name: str) -> str:
        return self.cg.helper(name)

    def buffer(self, array: np.ndarray, base: str | None = None) -> str:
        return self.cg.buffer(array, base or self.base)

    def module(self, ctor: str, params: dict[str, np.ndarray | None], base: str | None = None) -> str:
        return self.cg.module(base or self.base, ctor, params)

    def subscope(self, graph: Graph) -> Scope:
        return Scope(self.cg, graph, self.scope)

    def body(self, graph: Graph, bindings: dict[str, Val]) -> tuple[list[str], list[str]]:
        """The statements of a subgraph (an If/Loop/Scan body) emitted in a child scope whose
        inputs are ``bindings``, and the expressions of its outputs."""
        sub = self.subscope(graph)
        sub.vals.update(bindings)
        sub.emit_nodes(protect=set(graph.outputs))
        return sub.lines, [sub.materialize(o) for o in graph.outputs]

    def fail(self, why: str):
        raise EmitError(f"{self.node.op_type} node '{self.node.name}': {why}")


# ---------------------------------------------------------------- folding
_FOLDABLE = {
    "Shape", "Size", "Gather", "Concat", "Unsqueeze", "Squeeze", "Slice", "Cast", "Add", "Sub", "Mul", "Div",
    "Equal", "Where", "Range", "ConstantOfShape", "Reshape", "Identity", "ReduceProd", "Max", "Min", "Neg",
    "Not", "Less", "Greater", "Mod", "Floor", "Ceil", "Sqrt", "Abs", "Transpose", "Expand", "Flatten", "CastLike",
    "And", "Or", "LessOrEqual", "GreaterOrEqual", "Pow", "Exp", "Log", "Tile", "Sign", "Reciprocal",
}


def try_fold(scope: Scope, node: Node) -> bool:
    """Evaluate ``node`` now when all its inputs are known (shapes count when static)."""
    if not is_default_domain(node.domain) or node.op_type not in _FOLDABLE or any(True for _ in node.subgraphs()):
        return False
    if any(scope.cg.is_source_state(t) for t in node.inputs if t):
        return False  # the source's parameters stay parameters (its state dict loads)

    def shape_of(t: str):
        c = scope.const_of(t)
        if c is not None:
            return tuple(c.shape)
        vt = scope.type_of(t)
        return None if vt is None or vt.shape is None else tuple(vt.shape)

    outs = fold_node(node, scope.const_of, shape_of, scope.cg.graph.opset_imports)
    if outs is None:
        return False
    for t, o in zip(node.outputs, outs):
        if t:
            scope.vals[t] = Val("", "tensor", np.asarray(o))
    return True


# ---------------------------------------------------------------- preflight
def missing_ops(registry: OpRegistry, graph: Graph) -> dict[tuple[str, str], list[str]]:
    """Every op of ``graph`` (subgraphs included) that ``registry`` has no handler for."""
    missing: dict[tuple[str, str], list[str]] = {}
    for g in graph.iter_graphs():
        for data in g.nx.nodes.values():
            node = data["node"]
            domain = "" if is_default_domain(node.domain) else node.domain
            version = graph.opset_imports.get(domain, g.opset_imports.get(domain))
            if registry.lookup(node.op_type, domain, version) is None:
                missing.setdefault((domain, node.op_type), []).append(node.name)
    return missing


def preflight(dialect: Dialect, graph: Graph) -> None:
    missing = missing_ops(dialect.registry, graph)
    if missing:
        raise UnsupportedOpsError(dialect.target, missing)


# ---------------------------------------------------------------- module
@dataclass
class Module:
    """What :func:`generate` produces: the source, the stored arrays, the manifest."""

    source: str
    state: dict[str, np.ndarray]
    manifest: dict[str, Any] = field(default_factory=dict)
    constants: dict[str, np.ndarray] = field(default_factory=dict)  # stored, but not state


def generate(dialect: Dialect, graph: Graph) -> Module:
    """The module source, stored arrays and manifest of ``graph`` in ``dialect``."""
    cg = Codegen(graph, dialect)
    scope = Scope(cg, graph)
    args = []
    for name in graph.real_inputs:
        ident = cg.ident(name)
        args.append(ident)
        vt = graph.type_of(name)
        kind = "seq" if vt is not None and vt.kind == "sequence" else "tensor"
        scope.vals[name] = Val(ident, kind, None, True)
        cg.manifest[name] = ident
    scope.emit_nodes(protect=set(graph.outputs))
    rets = [scope.materialize(o) for o in graph.outputs]
    source_format = graph.metadata.get("source_format") or "onnx"
    header = docstring(f"{graph.name or 'model'}: converted by mmconvert from {source_format}"
                       f" (opset {graph.opset_imports.get('', CANONICAL_OPSET)}).\n\n"
                       f"Inputs: {', '.join(args) or 'none'}. Outputs: {len(rets)}.\n")
    source = dialect.format(dialect.module_source(cg, header, args, scope.lines, rets))
    manifest = {
        "producer": PRODUCER,
        "version": MANIFEST_VERSION,
        "target": dialect.target,
        "inputs": {n: cg.manifest[n] for n in graph.real_inputs},
        "outputs": list(graph.outputs),
        "tensors": {k: v for k, v in cg.manifest.items() if not v.startswith("self.") and v != "None"},
    }
    layouts = _layouts(graph, cg.manifest, manifest["tensors"])
    if layouts:
        manifest["layouts"] = layouts
    return Module(source, cg.state, manifest, cg.constants)


def _layouts(graph: Graph, exprs: dict[str, str], tensors: dict[str, str]) -> dict[str, list[int]]:
    """Tensors a layout pass moved (``graph.layouts``): each is mapped to the expression of the
    tensor holding it and the permutation that restores its own layout (``tensors`` is
    completed in place)."""
    from mmconvert.ir.passes.layout import resolve

    out = {}
    for tensor in graph.layouts:
        holder = graph.layouts[tensor][0]
        if tensor in exprs and holder != tensor:
            continue  # the tensor itself is computed (its name was recorded before it was re-created)
        found = resolve(graph, tensor, lambda h: h in exprs)
        if found is None or exprs[found[0]].startswith("self.") or exprs[found[0]] == "None":
            continue
        tensors[tensor] = exprs[found[0]]
        out[tensor] = found[1]
    return out


def write_folder(path: str, module: Module, dialect: Dialect, extra_files: dict[str, bytes] | None = None) -> None:
    """Write the artifact folder at ``path`` (a fresh staging path: nothing is there yet)."""
    os.makedirs(path)
    files = ["model.py", "weights.safetensors", "manifest.json", *sorted(extra_files or {})]
    with open(os.path.join(path, "model.py"), "w", encoding="utf-8") as f:
        f.write(module.source)
    save_safetensors(os.path.join(path, "weights.safetensors"), list(module.state.items()),
                     metadata=dialect.weights_metadata())
    if module.constants:
        files.insert(2, "constants.safetensors")
        save_safetensors(os.path.join(path, "constants.safetensors"), list(module.constants.items()),
                         metadata=dialect.weights_metadata())
    for name, data in (extra_files or {}).items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)
    with open(os.path.join(path, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({**module.manifest, "files": files}, f, indent=1, sort_keys=False)
        f.write("\n")
