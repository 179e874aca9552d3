"""Emit ``model.py`` (a ``torch.nn.Module``) and ``weights.safetensors`` from the IR.

The emitter walks each graph in topological order and asks the op registry for one
statement per node, named after the node.  Values are released (``del``) once their last
user has run, like torch.fx's codegen.  Weights that belong to a layer become that
layer's parameters (``nn.Conv2d`` ...); other constants are inlined when small (Python
scalars and int lists) and registered as buffers otherwise.

Shape arithmetic on symbolic dims is kept as Python ints/lists (``x.shape[0]``), which
``torch.export`` traces symbolically; shapes known statically are folded at emit time.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from backends import EmitResult
from ir import dtypes
from ir.errors import InputError, UnsupportedError, UnsupportedOpsError
from ir.graph import Graph
from ir.node import Node
from ir.opset import CANONICAL_OPSET, is_default_domain
from ir.weights import save_safetensors

from . import registry
from .registry import lookup

TORCH_DTYPE = {
    "float32": "torch.float32", "float64": "torch.float64", "float16": "torch.float16",
    "bfloat16": "torch.bfloat16", "int8": "torch.int8", "int16": "torch.int16", "int32": "torch.int32",
    "int64": "torch.int64", "uint8": "torch.uint8", "uint16": "torch.uint16", "uint32": "torch.uint32",
    "uint64": "torch.uint64", "bool": "torch.bool", "complex64": "torch.complex64",
    "complex128": "torch.complex128", "float8e4m3fn": "torch.float8_e4m3fn", "float8e5m2": "torch.float8_e5m2",
    "float8e4m3fnuz": "torch.float8_e4m3fnuz", "float8e5m2fnuz": "torch.float8_e5m2fnuz",
}
# statically known constants up to this many elements are written inline as literals
INLINE_MAX = 16
# constant folding at emit time: only when the result stays this small
FOLD_MAX = 1 << 16
_RESERVED = set(keyword.kwlist) | {"self", "torch", "nn", "F", "math", "os", "load_file", "Model", "load_model",
                                  "super", "list", "tuple", "int", "float", "len", "range", "min", "max", "sum",
                                  "abs", "all", "any", "bool", "print", "isinstance", "type", "object", "input"}


class EmitError(UnsupportedError):
    """A node whose attributes or types this backend cannot express."""


def sanitize(name: str) -> str:
    s = re.sub(r"\W+", "_", name).strip("_") or "v"
    if s[0].isdigit():
        s = "v" + s
    return s


@dataclass
class Val:
    expr: str
    kind: str = "tensor"  # tensor | list (python list of ints) | int (python int) | seq | none
    const: np.ndarray | None = None
    local: bool = False  # a variable of the current forward scope (may be deleted)


class Codegen:
    """State shared by every scope of one emitted module."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.idents: set[str] = set(_RESERVED)
        self.attrs: set[str] = set()  # names under self.
        self.init_lines: list[str] = []
        self.state: dict[str, np.ndarray] = {}
        self.helpers: list[str] = []
        self.imports: set[str] = set()
        self.const_exprs: dict[int, str] = {}  # id(array) -> self.<buffer> expression
        self.manifest: dict[str, str] = {}
        self.absorbed: dict[str, tuple[str, str]] = {}  # node name -> (its output, the tensor it aliases)

    def ident(self, base: str) -> str:
        base = sanitize(base)
        if base in _HELPER_NAMES:
            base = base + "_"
        name, i = base, 1
        while name in self.idents:
            name, i = f"{base}_{i}", i + 1
        self.idents.add(name)
        return name

    def attr_name(self, base: str) -> str:
        base = sanitize(base)
        name, i = base, 1
        while name in self.attrs or name in _MODULE_ATTRS:
            name, i = f"{base}_{i}", i + 1
        self.attrs.add(name)
        return name

    def helper(self, name: str) -> str:
        from . import runtime

        for dep in runtime.DEPENDS.get(name, ()):
            self.helper(dep)
        if name not in self.helpers:
            self.helpers.append(name)
        return name

    def buffer(self, array: np.ndarray, base: str) -> str:
        key = id(array)
        if key in self.const_exprs:
            return self.const_exprs[key]
        name = self.attr_name(base)
        arr = np.require(array, requirements="C")
        dt = dtypes.of_array(arr)
        if dt not in TORCH_DTYPE:
            raise EmitError(f"constant '{base}' has dtype {dt}, which PyTorch cannot hold")
        self.init_lines.append(f"self.register_buffer({name!r}, torch.empty({tuple(arr.shape)!r}, dtype={TORCH_DTYPE[dt]}))")
        self.state[name] = arr
        self.const_exprs[key] = f"self.{name}"
        return f"self.{name}"

    def module(self, base: str, ctor: str, params: dict[str, np.ndarray | None]) -> str:
        name = self.attr_name(base)
        self.init_lines.append(f"self.{name} = {ctor}")
        for pname, arr in params.items():
            if arr is not None:
                self.state[f"{name}.{pname}"] = np.require(arr, requirements="C")
                self.const_exprs[id(arr)] = f"self.{name}.{pname}"
        return f"self.{name}"


_HELPER_NAMES: set[str] = set()
# nn.Module attributes a submodule or buffer must not shadow
_MODULE_ATTRS = {
    "forward", "training", "state_dict", "parameters", "buffers", "modules", "children", "eval", "train", "to",
    "cuda", "cpu", "type", "half", "float", "double", "apply", "register_buffer", "register_parameter",
    "add_module", "zero_grad", "named_modules", "named_parameters", "named_buffers", "load_state_dict",
    "requires_grad_", "get_submodule", "get_parameter", "get_buffer", "extra_repr", "compile", "share_memory",
    "dump_patches", "call_super_init", "T_destination", "bfloat16", "ipu", "xpu", "mtia", "to_empty"}


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

    # -------------------------------------------------------------- emission
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
        from . import fusion

        fused, skip = fusion.find(g, lambda t: self.const_of(t) if self.get(t) is not None else g.constant(t))

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
        version = self.graph.opset_imports.get("" if is_default_domain(node.domain) else node.domain)
        if version is None:
            version = self.cg.graph.opset_imports.get("" if is_default_domain(node.domain) else node.domain, CANONICAL_OPSET)
        if node.op_type == "Constant" and is_default_domain(node.domain):
            from .ops.tensor import constant_value

            val = constant_value(node)
            self.vals[node.outputs[0]] = Val("", "tensor", val)
            return
        if node.name in self.cg.absorbed:  # fused into its producer's statement
            out, src = self.cg.absorbed[node.name]
            v = self.get(src)
            self.vals[out] = Val(v.expr, v.kind, v.const, v.local)
            self.cg.manifest[out] = v.expr
            return
        if _try_fold(self, node):
            return
        handler = lookup(node.op_type, node.domain, version)
        if handler is None:  # preflight makes this unreachable
            raise UnsupportedOpsError("pytorch", {(node.domain, node.op_type): [node.name]})
        ctx = NodeCtx(self, node)
        handler(ctx)
        for o in node.outputs:
            if o and o not in self.vals:
                raise EmitError(f"handler for {node.op_type} did not produce '{o}'")


class NodeCtx:
    """What an op handler sees: the node, its inputs as expressions, and ways to emit."""

    def __init__(self, scope: Scope, node: Node):
        self.scope = scope
        self.cg = scope.cg
        self.node = node
        self.base = sanitize(node.name or node.op_type.lower())

    # ----------------------------------------------------------------- reading
    def attr(self, name: str, default: Any = None) -> Any:
        v = self.node.attrs.get(name, default)
        if isinstance(v, bytes):
            v = v.decode()
        return v

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

    def out_type(self, j: int = 0):
        return self.scope.type_of(self.node.outputs[j])

    def out_dtype(self, j: int = 0) -> str | None:
        vt = self.out_type(j)
        return vt.dtype if vt is not None else None

    def out_rank(self, j: int = 0) -> int | None:
        vt = self.out_type(j)
        return None if vt is None or vt.shape is None else len(vt.shape)

    def need_rank(self, i: int) -> int:
        r = self.rank(i)
        if r is None:
            raise EmitError(f"{self.node.op_type} node '{self.node.name}' needs the rank of input {i}")
        return r

    def x(self, i: int) -> str | None:
        """Input ``i`` as a tensor expression (None when the optional input is omitted)."""
        if not self.has(i):
            return None
        v = self.val(i)
        if v.kind == "tensor":
            if v.expr:
                return v.expr
            c = v.const
            if c is not None and c.ndim == 0 and c.dtype != object and dtypes.of_array(c) in TORCH_DTYPE and c.dtype.kind in "biuf":
                return f"torch.tensor({lit(c.item())}, dtype={TORCH_DTYPE[dtypes.of_array(c)]})"
            expr = self.cg.buffer(c, self.node.inputs[i])
            v.expr = expr
            return expr
        if v.kind in ("list", "int"):
            return f"torch.tensor({v.expr}, dtype=torch.int64)"
        return v.expr

    def seq(self, i: int) -> str:
        v = self.val(i)
        return v.expr

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

    def int_list(self, i: int) -> list[int] | None:
        c = self.const(i)
        return None if c is None else [int(a) for a in np.asarray(c).reshape(-1)]

    def is_shape_value(self, i: int) -> bool:
        return self.has(i) and (self.val(i).kind in ("list", "int") or self.val(i).const is not None)

    # ---------------------------------------------------------------- writing
    def var(self, j: int = 0) -> str:
        outs = [o for o in self.node.outputs]
        base = self.base if len([o for o in outs if o]) <= 1 else f"{self.base}_{j}"
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
            if t and t in used:
                names.append(self.var(j))
            else:
                names.append("_")
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

    def module(self, ctor: str, params: dict[str, np.ndarray | None], base: str | None = None) -> str:
        return self.cg.module(base or self.base, ctor, params)

    def buffer(self, array: np.ndarray, base: str | None = None) -> str:
        return self.cg.buffer(array, base or self.base)

    def subscope(self, graph: Graph) -> Scope:
        return Scope(self.cg, graph, self.scope)

    def fail(self, why: str):
        raise EmitError(f"{self.node.op_type} node '{self.node.name}': {why}")


def lit(value: Any) -> str:
    """A Python literal for a number / nested list (inf and nan spelled through math)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        inner = ", ".join(lit(v) for v in value)
        return f"[{inner}]"
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if f != f:
            return "math.nan"
        if f in (float("inf"), float("-inf")):
            return "math.inf" if f > 0 else "-math.inf"
        return repr(f)
    if isinstance(value, str):
        return repr(value)
    return repr(value)


def torch_dtype(name: str | None) -> str:
    if name is None or name not in TORCH_DTYPE:
        raise EmitError(f"dtype {name} has no PyTorch equivalent")
    return TORCH_DTYPE[name]


# ---------------------------------------------------------------- folding
_FOLDABLE = {
    "Shape", "Size", "Gather", "Concat", "Unsqueeze", "Squeeze", "Slice", "Cast", "Add", "Sub", "Mul", "Div",
    "Equal", "Where", "Range", "ConstantOfShape", "Reshape", "Identity", "ReduceProd", "Max", "Min", "Neg",
    "Not", "Less", "Greater", "Mod", "Floor", "Ceil", "Sqrt", "Abs", "Transpose", "Expand", "Flatten", "CastLike",
    "And", "Or", "LessOrEqual", "GreaterOrEqual", "Pow", "Exp", "Log", "Tile", "Sign", "Reciprocal",
}


def _try_fold(scope: Scope, node: Node) -> bool:
    """Evaluate ``node`` now when all its inputs are known (shapes count when static)."""
    if not is_default_domain(node.domain) or node.op_type not in _FOLDABLE or any(True for _ in node.subgraphs()):
        return False
    if node.op_type in ("Shape", "Size"):
        vt = scope.type_of(node.inputs[0])
        c = scope.const_of(node.inputs[0])
        shape = tuple(c.shape) if c is not None else (vt.shape if vt is not None else None)
        if shape is None or not all(isinstance(d, int) for d in shape):
            return False
        if node.op_type == "Size":
            value = np.array(int(np.prod(shape)), dtype=np.int64)
        else:
            start, end = node.attrs.get("start", 0), node.attrs.get("end", None)
            value = np.array(shape[start:end] if end is not None else shape[start:], dtype=np.int64)
        scope.vals[node.outputs[0]] = Val("", "tensor", value)
        return True
    consts = []
    for t in node.inputs:
        if not t:
            consts.append(None)
            continue
        c = scope.const_of(t)
        if c is None or c.dtype == object:
            return False
        consts.append(c)
    if any(c is not None and c.size > FOLD_MAX for c in consts):
        return False
    try:
        outs = _evaluate(node, consts)
    except Exception:  # noqa: BLE001 - not foldable here; emit it as code
        return False
    if any(o.size > FOLD_MAX for o in outs):
        return False
    for t, o in zip(node.outputs, outs):
        if t:
            scope.vals[t] = Val("", "tensor", np.asarray(o))
    return True


def _evaluate(node: Node, consts: list) -> list[np.ndarray]:
    import onnx
    from onnx.reference import ReferenceEvaluator

    from backends.onnx.emitter import attribute_proto

    names = [f"i{k}" if c is not None else "" for k, c in enumerate(consts)]
    n = onnx.helper.make_node(node.op_type, names, [f"o{k}" for k in range(len(node.outputs))])
    n.attribute.extend(attribute_proto(k, node.attr_types[k], v) for k, v in sorted(node.attrs.items()))
    ev = ReferenceEvaluator(n)
    feeds = {nm: c for nm, c in zip(names, consts) if nm}
    return [np.asarray(o) for o in ev.run(None, feeds)]


# ---------------------------------------------------------------- preflight
def missing_ops(graph: Graph) -> dict[tuple[str, str], list[str]]:
    from . import ops  # noqa: F401 - registers the handlers

    missing: dict[tuple[str, str], list[str]] = {}
    for g in graph.iter_graphs():
        for data in g.nx.nodes.values():
            node = data["node"]
            domain = "" if is_default_domain(node.domain) else node.domain
            version = graph.opset_imports.get(domain, g.opset_imports.get(domain))
            if lookup(node.op_type, domain, version) is None:
                missing.setdefault((domain, node.op_type), []).append(node.name)
    return missing


def supported_ops() -> dict[str, list[str]]:
    from . import ops  # noqa: F401

    out: dict[str, list[str]] = {}
    for (domain, op), ents in sorted(registry.entries().items()):
        key = f"{domain}::{op}" if domain else op
        out[key] = [f"{e.first}-{e.last}" for e in ents]
    return out


# ---------------------------------------------------------------- module text
def generate(graph: Graph) -> tuple[str, dict[str, np.ndarray], dict[str, Any]]:
    """(model.py source, state dict arrays, manifest) for ``graph``."""
    from . import ops  # noqa: F401
    from . import runtime

    _HELPER_NAMES.update(runtime.DEPENDS.keys())
    _HELPER_NAMES.update(n for n in dir(runtime) if not n.startswith("__"))
    cg = Codegen(graph)
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
    rets = []
    for o in graph.outputs:
        v = scope.get(o)
        if v is None:
            raise EmitError(f"graph output '{o}' is not produced")
        rets.append(_materialize(cg, scope, o, v))
    lines = scope.lines
    if len(rets) == 1:
        lines.append(f"return {rets[0]}")
    else:
        lines.append(f"return {', '.join(rets)}")

    body = "\n".join("        " + ln if ln else "" for ln in lines)
    init = "\n".join("        " + ln for ln in cg.init_lines)
    helper_src = runtime.sources(cg.helpers)
    code_text = body + init + helper_src
    imports = ["import os", ""]
    if "math." in code_text:
        imports.insert(0, "import math")
    imports += ["import torch", "import torch.nn as nn", "import torch.nn.functional as F",
                "from safetensors.torch import load_file"]
    header = f'"""{graph.name or "model"}: converted by mmconvert from {graph.metadata.get("source_format", "ONNX")}' \
             f' (opset {graph.opset_imports.get("", CANONICAL_OPSET)}).\n\nInputs: {", ".join(args) or "none"}.' \
             f' Outputs: {len(rets)}.\n"""\n'
    parts = [header, "\n".join(imports), "\n"]
    if helper_src:
        parts.append(helper_src)
    parts.append(
        "\nclass Model(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        + (init + "\n" if init else "")
        + "\n"
        + f"    def forward(self{''.join(', ' + a for a in args)}):\n"
        + body + "\n")
    parts.append(_LOADER)
    manifest = {"inputs": {n: cg.manifest[n] for n in graph.real_inputs},
                "outputs": list(graph.outputs),
                "tensors": {k: v for k, v in cg.manifest.items() if not v.startswith("self.") and v != "None"}}
    return "\n".join(parts), cg.state, manifest


def _materialize(cg: Codegen, scope: Scope, name: str, v: Val) -> str:
    if v.kind == "tensor" and v.expr:
        return v.expr
    if v.kind == "tensor" and v.const is not None:
        v.expr = cg.buffer(v.const, name)
        return v.expr
    if v.kind in ("list", "int"):
        return f"torch.tensor({v.expr}, dtype=torch.int64)"
    return v.expr


_LOADER = '''
def _as_tensor(a):
    if a is None or isinstance(a, torch.Tensor):
        return a
    if isinstance(a, (list, tuple)):
        return [_as_tensor(t) for t in a]
    return torch.as_tensor(a)


def _as_tensors(module, args):
    return tuple(_as_tensor(a) for a in args)


def load_model(weights=None):
    """The model with its weights loaded, in eval mode; inputs may be tensors or numpy arrays."""
    weights = weights or os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.safetensors")
    with torch.device("meta"):
        model = Model()
    model.load_state_dict(load_file(weights), assign=True)
    model.register_forward_pre_hook(_as_tensors)
    return model.eval()
'''


def _format(source: str) -> str:
    """Format with black or ruff when installed (optional)."""
    try:
        import black  # type: ignore

        return black.format_str(source, mode=black.Mode(line_length=110))
    except Exception:  # noqa: BLE001
        return source


# ---------------------------------------------------------------- save
def save(graph: Graph, output: str, *, format_code: bool = True, **_ignored) -> EmitResult:
    """Write ``graph`` as a PyTorch folder (``model.py``, ``weights.safetensors``,
    ``manifest.json``) at ``output``, atomically."""
    missing = missing_ops(graph)
    if missing:
        raise UnsupportedOpsError("pytorch", missing)
    output = os.path.abspath(os.fspath(output))
    if os.path.isfile(output):
        raise InputError(f"{output} is a file; the pytorch target writes a folder")
    source, state, manifest = generate(graph)
    if format_code:
        source = _format(source)
    parent = os.path.dirname(output)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".mmconvert-")
    try:
        with open(os.path.join(tmp, "model.py"), "w") as f:
            f.write(source)
        save_safetensors(os.path.join(tmp, "weights.safetensors"), list(state.items()),
                         metadata={"format": "pt"})
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)
        old = None
        if os.path.exists(output):
            old = tempfile.mkdtemp(dir=parent, prefix=".mmconvert-old-")
            os.replace(output, os.path.join(old, "x"))
        os.replace(tmp, output)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return EmitResult(path=output, target="pytorch", opset=graph.opset_imports.get("", CANONICAL_OPSET),
                      details={"model": os.path.join(output, "model.py"), "parameters": len(state)})
