"""A ``torch.export.ExportedProgram`` -> ``ir.Graph``, one ATen op at a time.

The walk follows the program's FX graph in order.  Each ``call_function`` node goes to the
handler registered for its ATen overload (``frontends/pytorch/aten/``), which writes IR
nodes through a :class:`Call`.  What the FX metadata says is kept:

- parameters and buffers become initializers under their dotted path (``encoder.layer.0
  .attention.self.query.weight``: the program's ``graph_signature`` gives it);
- a node that is the call of a leaf module (it reads that module's own parameter, or is
  the only op the module runs) is named after the module's path (``nn_module_stack``);
  other nodes keep the FX name (``view_3``); every node records its module scope in
  ``pkg.torch.onnx.name_scopes`` / ``pkg.torch.onnx.class_hierarchy`` metadata, as
  torch.onnx writes it;
- every tensor gets its dtype and shape from the node's fake value; a dynamic dim keeps a
  symbolic name (``batch``, ``seq``, ``2*seq``), never its example size;
- a symbolic size (``x.size(0) * 4`` ...) is computed from the graph inputs' shapes
  (``Shape`` -> ``Gather`` -> arithmetic), from the sympy expression torch.export keeps.

An op without a handler is collected (:class:`Unmapped`) so the caller can decompose it or
take the torch.onnx route; nothing half-translated escapes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import sympy
import torch

from mmconvert.ir.graph import Graph
from mmconvert.ir.node import Node
from mmconvert.ir.opset import CANONICAL_OPSET
from mmconvert.ir.types import ValueType

from .aten import HANDLERS, Unmapped, target_key
from .tensors import IR_DTYPE, np_dtype, to_numpy

# FX nodes that compute nothing the IR needs (shape checks and annotations)
_NO_OPS = {"aten._assert_tensor_metadata.default", "aten._assert_scalar.default", "aten.sym_constrain_range_for_size.default",
           "aten.sym_constrain_range.default", "aten._assert_async.msg", "aten._assert_async.default",
           "aten._functional_assert_async.msg", "aten._functional_sym_constrain_range_for_size.default",
           "aten._functional_sym_constrain_range.default"}


class Translator:
    def __init__(self, ep, *, dim_names: dict[str, dict[int, str]] | None = None,
                 output_names: list[str] | None = None, aliases: dict[str, str] | None = None):
        self.ep = ep
        self.g = Graph("main")
        self.g.opset_imports = {"": CANONICAL_OPSET}
        self.env: dict[Any, Any] = {}
        self.used: set[str] = set()
        self.dim_names = dim_names or {}
        self.output_names = output_names
        self.sym_names: dict[sympy.Symbol, str] = {}
        self.sym_sources: dict[sympy.Symbol, tuple[str, int]] = {}
        self.sym_cache: dict[Any, str] = {}
        self.scalar_cache: dict[tuple, str] = {}
        self.shape_cache: dict[str, str] = {}
        self.param_owner: dict[str, str] = {}  # placeholder name -> FQN of a parameter/buffer
        self.aliases = aliases or {}  # a tied parameter's other names -> the name the module lists first
        self.by_target: dict[str, str] = {}
        self.module_outputs: dict[Any, str] = {}
        self.out_names: dict[Any, str] = {}

    # ------------------------------------------------------------------ names
    def fresh(self, base: str) -> str:
        """A tensor/node name not used yet, derived from ``base``."""
        name, i = base, 1
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name

    def dim(self, d) -> int | str:
        """An IR dim for a size from a fake value: an int, or a symbolic name such as ``2*seq``."""
        if isinstance(d, int):
            return d
        expr = d.node.expr
        if expr.is_Integer:
            return int(expr)
        subs = {s: sympy.Symbol(self.sym_name(s)) for s in expr.free_symbols}
        return str(expr.xreplace(subs))

    def sym_name(self, sym) -> str:
        if sym not in self.sym_names:
            src = self.sym_sources.get(sym)
            self.sym_names[sym] = f"{src[0]}_dim{src[1]}" if src else str(sym)
        return self.sym_names[sym]

    def value_type(self, val) -> ValueType | None:
        if isinstance(val, torch.Tensor):
            return ValueType.tensor(IR_DTYPE.get(val.dtype), [self.dim(d) for d in val.shape])
        return None

    # ------------------------------------------------------------------ weights
    def add_initializer(self, name: str, array: np.ndarray) -> str:
        name = self.fresh(name)
        self.g.initializers[name] = array
        return name

    def scalar(self, value, dtype: str, base: str = "const") -> str:
        """A 0-d constant (shared by every use of the same value and dtype)."""
        arr = np.array(value, dtype=np_dtype(dtype))
        key = (dtype, arr.tobytes())
        if key not in self.scalar_cache:
            self.scalar_cache[key] = self.add_initializer(base, arr)
        return self.scalar_cache[key]

    def ints(self, values: list[int], base: str) -> str:
        """A 1-D int64 constant (shared by equal lists)."""
        arr = np.array(list(values), dtype=np.int64)
        key = ("ints", arr.tobytes(), arr.shape)
        if key not in self.scalar_cache:
            self.scalar_cache[key] = self.add_initializer(base, arr)
        return self.scalar_cache[key]

    # ------------------------------------------------------------------ nodes
    def add(self, op_type: str, inputs: list[str], name: str, outputs: list[str], attrs: dict, domain: str = "",
            metadata: dict | None = None) -> Node:
        node = Node(name=name, op_type=op_type, inputs=list(inputs), outputs=list(outputs), domain=domain,
                    metadata=dict(metadata or {}))
        for k, v in attrs.items():
            if v is not None:
                node.set_attr(k, v)
        return self.g.add_node(node)

    # ------------------------------------------------------------------ symbols
    def sym_value(self, expr) -> str:
        """A 0-d int64 tensor holding the value of sympy ``expr`` (sizes of the graph inputs)."""
        expr = sympy.sympify(expr)
        if expr in self.sym_cache:
            return self.sym_cache[expr]
        if expr.is_Integer:
            return self.scalar(int(expr), "int64", "size")
        if isinstance(expr, sympy.Symbol):
            src = self.sym_sources.get(expr)
            if src is None:
                raise Unmapped(Counter({f"size {expr}": 1}), f"the size {expr} is data-dependent")
            tensor, axis = src
            shape = self.shape_of(tensor)
            name = self.fresh(f"{tensor}_size{axis}")
            self.add("Gather", [shape, self.scalar(axis, "int64", "axis")], name, [name], {"axis": 0})
            self.g.values[name] = ValueType.tensor("int64", [])
            self.sym_cache[expr] = name
            return name
        fname = type(expr).__name__
        args = [self.sym_value(a) for a in expr.args]
        if isinstance(expr, sympy.Add):
            op = "Add"
        elif isinstance(expr, sympy.Mul):
            op = "Mul"
        elif fname in ("FloorDiv", "IntTrueDiv") or (fname == "CleanDiv"):
            op = "Div"
        elif fname in ("PythonMod", "Mod"):
            op = "Mod"
        elif isinstance(expr, sympy.Max):
            op = "Max"
        elif isinstance(expr, sympy.Min):
            op = "Min"
        elif isinstance(expr, sympy.Pow) and expr.args[1].is_Integer and int(expr.args[1]) > 0:
            args = [args[0]] * int(expr.args[1])
            op = "Mul"
        else:
            raise Unmapped(Counter({f"size expression {fname}": 1}), f"cannot compute the size {expr} in the graph")
        out = args[0]
        for a in args[1:]:
            name = self.fresh("size")
            self.add(op, [out, a], name, [name], {})
            self.g.values[name] = ValueType.tensor("int64", [])
            out = name
        self.sym_cache[expr] = out
        return out

    def shape_of(self, tensor: str) -> str:
        if tensor not in self.shape_cache:
            name = self.fresh(f"{tensor}_shape")
            self.add("Shape", [tensor], name, [name], {})
            vt = self.g.type_of(tensor)
            self.g.values[name] = ValueType.tensor("int64", [len(vt.shape)] if vt and vt.shape is not None else [None])
            self.shape_cache[tensor] = name
        return self.shape_cache[tensor]

    # ------------------------------------------------------------------ walk
    def run(self) -> Graph:
        ep = self.ep
        nodes = list(ep.graph.nodes)
        self._inputs(nodes)
        self._module_outputs(nodes)
        self._plan_outputs(nodes)
        missing: Counter = Counter()
        for fx in nodes:
            if fx.op != "call_function":
                continue
            key = target_key(fx.target)
            if key in _NO_OPS:
                continue
            val = fx.meta.get("val")
            if isinstance(val, (torch.SymInt, torch.SymFloat, torch.SymBool)) or (
                    isinstance(val, (int, float, bool)) and key not in HANDLERS):
                self.env[fx] = self._symbolic(fx, val)
                continue
            handler = HANDLERS.get(key)
            if handler is None:
                missing[key] += 1
                continue
            if missing:
                continue  # keep counting what is missing; the graph is abandoned anyway
            call = Call(self, fx)
            self.env[fx] = handler(call)
        if missing:
            raise Unmapped(missing)
        self._outputs(nodes)
        from mmconvert.ir.passes.cleanup import remove_unused_initializers
        from mmconvert.ir.passes.split import gathers_to_split

        gathers_to_split(self.g)  # q, k, v = proj[0], proj[1], proj[2]: one Split (ONNX Runtime needs it)
        remove_unused_initializers(self.g)  # buffers the forward never reads (num_batches_tracked ...)
        return self.g

    def _symbolic(self, fx, val):
        if isinstance(val, (int, float, bool)):
            return val
        if isinstance(val, torch.SymBool):
            return None  # guards and asserts only
        expr = val.node.expr
        if expr.is_number:
            return int(expr) if expr.is_Integer else float(expr)
        if isinstance(val, torch.SymFloat):
            raise Unmapped(Counter({target_key(fx.target): 1}), "a symbolic float")
        return self.sym_value(expr)

    def _inputs(self, nodes) -> None:
        from torch.export.graph_signature import InputKind

        sig = self.ep.graph_signature
        specs = {s.arg.name: s for s in sig.input_specs if hasattr(s.arg, "name")}
        state = self.ep.state_dict
        constants = self.ep.constants
        # user inputs first (their names are the forward arguments'), so that parameters
        # never take an input's name
        placeholders = [n for n in nodes if n.op == "placeholder"]
        for fx in placeholders:
            spec = specs.get(fx.name)
            if spec is not None and spec.kind == InputKind.USER_INPUT:
                self.used.add(fx.name)
        for fx in placeholders:
            spec = specs.get(fx.name)
            val = fx.meta.get("val")
            if spec is None or spec.kind == InputKind.USER_INPUT:
                if isinstance(val, torch.Tensor):
                    name = fx.name
                    self.g.inputs.append(name)
                    for axis, d in enumerate(val.shape):
                        if isinstance(d, torch.SymInt) and isinstance(d.node.expr, sympy.Symbol):
                            sym = d.node.expr
                            if sym not in self.sym_sources:
                                self.sym_sources[sym] = (name, axis)
                                given = self.dim_names.get(name, {}).get(axis)
                                if given:
                                    self.sym_names[sym] = given
                    self.env[fx] = name
                else:
                    self.env[fx] = val  # a constant the program was specialized to
                continue
            if spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
                target = spec.target
                tensor = state[target] if target in state else constants[target]
                target = self.aliases.get(target, target)
                name = self.by_target.get(target)
                if name is None:
                    name = self.by_target[target] = self.add_initializer(target, to_numpy(tensor))
                self.param_owner[fx.name] = name
                self.env[fx] = name
            elif spec.kind == InputKind.TOKEN:
                self.env[fx] = None
            else:
                raise Unmapped(Counter({f"input kind {spec.kind.name}": 1}))
        for name in self.g.inputs:
            fx = next(n for n in placeholders if n.name == name)
            self.g.values[name] = self.value_type(fx.meta["val"])

    def _module_outputs(self, nodes) -> None:
        """The FX node that is the one result of a module call (its innermost module), so it can
        be named after the module: the only node of that call read outside it."""
        members: dict[str, list] = {}
        for fx in nodes:
            stack = fx.meta.get("nn_module_stack") if fx.op == "call_function" else None
            if stack and isinstance(fx.meta.get("val"), torch.Tensor):
                members.setdefault(next(reversed(stack)), []).append(fx)
        for key, group in members.items():
            outs = [fx for fx in group
                    if any(key not in (u.meta.get("nn_module_stack") or {}) for u in fx.users)]
            if len(outs) == 1:
                path = outs[0].meta["nn_module_stack"][key][0]
                if path:
                    self.module_outputs[outs[0]] = path

    def _plan_outputs(self, nodes) -> None:
        out_node = next(n for n in reversed(nodes) if n.op == "output")
        flat = list(out_node.args[0])
        names = self.output_names or []
        for i, v in enumerate(flat):
            if isinstance(v, torch.fx.Node) and i < len(names) and v not in self.out_names and v.op == "call_function" \
                    and names[i] not in self.used:
                self.out_names[v] = names[i]
                self.used.add(names[i])

    def _outputs(self, nodes) -> None:
        out_node = next(n for n in reversed(nodes) if n.op == "output")
        names = self.output_names or []
        for i, v in enumerate(out_node.args[0]):
            value = self.env.get(v) if isinstance(v, torch.fx.Node) else v
            if not isinstance(value, str):
                continue  # a constant output: not part of the graph's outputs
            want = names[i] if i < len(names) else None
            if want and value != want:
                # an input, a weight or a tensor already returned: an Identity gives it the name
                want = want if want not in self.used or self.out_names.get(v) == want and value == want else self.fresh(want)
                if want != value:
                    self.used.add(want)
                    self.add("Identity", [value], want, [want], {})
                    self.g.values[want] = self.g.type_of(value)
                    value = want
            self.g.outputs.append(value)


class Call:
    """What an ATen handler sees: the FX node, its arguments by schema name, and ways to
    write IR nodes.  The last node a handler writes with :meth:`out` carries the FX node's
    name and type; helper nodes written with :meth:`op` are named after it."""

    def __init__(self, t: Translator, fx):
        self.t = t
        self.fx = fx
        self.val = fx.meta.get("val")
        self.key = target_key(fx.target)
        self.args = _bind(fx)
        self.scope = _scope(fx)
        self.name = self._node_name()
        self.out_name = t.out_names.get(fx)
        self.metadata = _scope_metadata(fx)

    # ------------------------------------------------------------ arguments
    def __getitem__(self, key):
        return self.args[key]

    def get(self, key, default=None):
        v = self.args.get(key, default)
        return default if v is None else v

    def meta(self, v):
        """The fake value of an argument (a tensor, a SymInt ...) or the argument itself."""
        return v.meta.get("val") if isinstance(v, torch.fx.Node) else v

    def dtype(self, v) -> str | None:
        m = self.meta(v)
        if isinstance(m, torch.Tensor):
            return IR_DTYPE.get(m.dtype)
        if isinstance(m, bool):
            return "bool"
        if isinstance(m, (int, torch.SymInt)):
            return "int64"
        if isinstance(m, (float, torch.SymFloat)):
            return "float32"
        return None

    def rank(self, v) -> int:
        m = self.meta(v)
        return m.dim() if isinstance(m, torch.Tensor) else 0

    def shape(self, v) -> list:
        """The dims of an argument: ints, or symbolic sizes (torch.SymInt)."""
        m = self.meta(v)
        return list(m.shape) if isinstance(m, torch.Tensor) else []

    def out_dtype(self, j: int | None = None) -> str | None:
        v = self.val if j is None else self.val[j]
        return IR_DTYPE.get(v.dtype) if isinstance(v, torch.Tensor) else None

    def out_shape(self, j: int | None = None) -> list:
        v = self.val if j is None else self.val[j]
        return list(v.shape)

    def vtype(self, dtype: str | None, dims) -> ValueType:
        """A tensor type from a dtype and dims (ints or SymInts)."""
        return ValueType.tensor(dtype, [self.t.dim(d) for d in dims])

    def static(self, dims) -> bool:
        return all(isinstance(d, int) or d.node.expr.is_Integer for d in dims)

    # ------------------------------------------------------------ values
    def x(self, v, dtype: str | None = None) -> str:
        """Argument ``v`` as an IR tensor name: an FX value, or a Python number made a 0-d
        constant (of ``dtype``, else the number's own kind); cast to ``dtype`` when given."""
        if isinstance(v, torch.fx.Node):
            name = self.t.env[v]
            if isinstance(name, (int, float, bool)):
                return self.x(name, dtype)
            if not isinstance(name, str):
                raise Unmapped(Counter({f"{self.key} (argument {v.name})": 1}))
            have = self.dtype(v)
            if dtype and have and have != dtype:
                return self.cast(name, dtype)
            return name
        if isinstance(v, (bool, int, float)):
            dt = dtype or ("bool" if isinstance(v, bool) else "int64" if isinstance(v, int) else "float32")
            return self.t.scalar(v, dt, f"{self.name}_value")
        if isinstance(v, (torch.SymInt,)):
            return self.t.sym_value(v.node.expr)
        raise Unmapped(Counter({f"{self.key} (argument {type(v).__name__})": 1}))

    def cast(self, name: str, dtype: str) -> str:
        vt = self.t.g.type_of(name)
        return self.op("Cast", [name], to=_onnx_dtype(dtype), _type=ValueType.tensor(dtype, vt.shape if vt else None))

    def const(self, array, base: str = "value") -> str:
        return self.t.add_initializer(f"{self.name}_{base}", np.asarray(array))

    def ints(self, values: list[int], base: str = "axes") -> str:
        return self.t.ints([int(v) for v in values], f"{self.name}_{base}")

    def size(self, d) -> str:
        """A 0-d int64 tensor for one size (int or SymInt)."""
        if isinstance(d, int) or d.node.expr.is_Integer:
            return self.t.scalar(int(d), "int64", "size")
        return self.t.sym_value(d.node.expr)

    def shape_tensor(self, dims: list, like: str | None = None, like_dims: list | None = None) -> str:
        """A 1-D int64 tensor of ``dims`` (ints or SymInts).  For a Reshape of ``like`` (a tensor
        whose dims are ``like_dims``), a leading dim equal to the same dim of ``like`` is written 0
        (Reshape copies it) and one remaining symbolic dim -1, so no size is computed."""
        dims = list(dims)
        out: list = []
        for i, d in enumerate(dims):
            if isinstance(d, int) or d.node.expr.is_Integer:
                out.append(int(d))
            elif like_dims is not None and i < len(like_dims) and all(_same(like_dims[k], dims[k]) for k in range(i + 1)):
                out.append(0)  # Reshape copies the input's dim
            else:
                out.append(d)
        symbolic = [i for i, v in enumerate(out) if not isinstance(v, int)]
        literal_zero = any(isinstance(d, int) and d == 0 for d in dims)
        if like is not None and len(symbolic) == 1 and -1 not in out and not literal_zero:
            out[symbolic[0]] = -1  # Reshape infers the one unknown dim
            symbolic = []
        if not symbolic:
            return self.ints(out, "shape")
        pieces = []
        run: list[int] = []
        for v in out:
            if isinstance(v, int):
                run.append(v)
                continue
            if run:
                pieces.append(self.ints(run, "shape"))
                run = []
            pieces.append(self.op("Unsqueeze", [self.size(v), self.t.ints([0], "axes0")],
                                  _type=ValueType.tensor("int64", [1])))
        if run:
            pieces.append(self.ints(run, "shape"))
        if len(pieces) == 1:
            return pieces[0]
        return self.op("Concat", pieces, axis=0, _type=ValueType.tensor("int64", [len(out)]))

    # ------------------------------------------------------------ writing
    def op(self, op_type: str, inputs: list[str], *, n_out: int = 1, _type: ValueType | None = None, **attrs):
        """A helper node (named after this call); returns its output name(s)."""
        base = f"{self.name}_{op_type}"
        name = self.t.fresh(base)
        outs = [name] + [self.t.fresh(f"{name}_{j}") for j in range(1, n_out)]
        self.t.add(op_type, inputs, name, outs, attrs, metadata=self.metadata)
        if _type is None and n_out == 1:
            _type = infer_type(self.t.g, op_type, inputs, attrs)
        if _type is not None:
            self.t.g.values[outs[0]] = _type
        return outs[0] if n_out == 1 else outs

    def out(self, op_type: str, inputs: list[str], *, n_out: int = 1, domain: str = "", **attrs):
        """The node that computes this call's value; returns its output name(s)."""
        name = self.t.fresh(self.name)
        if n_out == 1:
            outs = [self.out_name or name]
            if self.out_name:
                self.t.used.add(self.out_name)
        else:
            outs = [self.t.fresh(f"{name}_{j}") for j in range(n_out)]
        self.t.add(op_type, inputs, name, outs, attrs, domain=domain, metadata=self.metadata)
        vals = self.val if isinstance(self.val, (list, tuple)) else [self.val]
        for o, v in zip(outs, vals):
            vt = self.t.value_type(v)
            if vt is not None:
                self.t.g.values[o] = vt
        return outs[0] if n_out == 1 else outs

    def identity(self, v) -> str:
        """This call's value is argument ``v`` itself (no node unless it is a graph output)."""
        name = self.x(v)
        if self.out_name:
            return self.out("Identity", [name])
        return name

    def _node_name(self) -> str:
        """The module's path for the node whose value is a module call's result, else the FX
        node's name."""
        return self.t.module_outputs.get(self.fx, self.fx.name)


_COMPARE = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not", "IsNaN", "IsInf"}
_BROADCAST = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "Where", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
              "PRelu"} | _COMPARE
_SAME = {"Sqrt", "Reciprocal", "Sigmoid", "Floor", "Ceil", "Neg", "Exp", "Log", "Relu", "Softplus", "Erf", "Abs",
         "Tanh", "Sin", "Cos", "Softmax", "LogSoftmax", "Identity", "Round", "Sign", "Gelu", "HardSwish", "Trilu",
         "CumSum", "Elu", "LeakyRelu", "Selu", "Celu", "Mish", "HardSigmoid", "BitwiseNot"}


def infer_type(g: Graph, op_type: str, inputs: list[str], attrs: dict) -> ValueType | None:
    """The type of a helper node's output, for the ops whose rule is simple (broadcasting,
    elementwise, Transpose); None when it is not known."""
    types = [g.type_of(t) if t else None for t in inputs]
    if not types or types[0] is None:
        return None
    if op_type in _SAME or op_type in _COMPARE and len(inputs) == 1:
        dtype = "bool" if op_type in _COMPARE else types[0].dtype
        return ValueType.tensor(dtype, types[0].shape)
    if op_type in _BROADCAST:
        if any(t is None or t.shape is None for t in types):
            return None
        rank = max(len(t.shape) for t in types)
        dims = []
        for i in range(rank):
            col = [t.shape[i - rank + len(t.shape)] for t in types if i - rank + len(t.shape) >= 0]
            known = [d for d in col if d != 1]
            if not known:
                dims.append(1)
            elif all(d == known[0] for d in known):
                dims.append(known[0])
            else:
                return None
        dtype = "bool" if op_type in _COMPARE else types[1].dtype if op_type == "Where" else types[0].dtype
        return ValueType.tensor(dtype, dims)
    if op_type == "Transpose" and types[0].shape is not None:
        perm = attrs.get("perm") or list(reversed(range(len(types[0].shape))))
        return ValueType.tensor(types[0].dtype, [types[0].shape[p] for p in perm])
    if op_type in ("Unsqueeze", "Squeeze") and len(inputs) > 1 and inputs[1] in g.initializers \
            and types[0].shape is not None:
        shape = list(types[0].shape)
        ax = [int(a) for a in np.asarray(g.initializers[inputs[1]]).reshape(-1)]
        if op_type == "Unsqueeze":
            r = len(shape) + len(ax)
            for a in sorted(a + r if a < 0 else a for a in ax):
                shape.insert(a, 1)
        else:
            drop = {a + len(shape) if a < 0 else a for a in ax}
            shape = [d for i, d in enumerate(shape) if i not in drop]
        return ValueType.tensor(types[0].dtype, shape)
    return None


def _same(a, b) -> bool:
    if isinstance(a, int) or isinstance(b, int):
        return isinstance(a, int) and isinstance(b, int) and a == b
    return a.node.expr == b.node.expr


def _bind(fx) -> dict:
    """The node's arguments by schema name (defaults filled in); positional for non-ATen targets."""
    target = fx.target
    schema = getattr(target, "_schema", None)
    if schema is None:
        return {i: a for i, a in enumerate(fx.args)} | dict(fx.kwargs)
    out: dict = {}
    for i, arg in enumerate(schema.arguments):
        if i < len(fx.args) and not arg.kwarg_only:
            out[arg.name] = fx.args[i]
        elif arg.name in fx.kwargs:
            out[arg.name] = fx.kwargs[arg.name]
        elif arg.has_default_value():
            out[arg.name] = arg.default_value
        else:
            out[arg.name] = None
        out[i] = out[arg.name]
    return out


def _scope(fx) -> str:
    stack = fx.meta.get("nn_module_stack")
    if not stack:
        return ""
    return stack[next(reversed(stack))][0]


def _scope_metadata(fx) -> dict[str, str]:
    stack = fx.meta.get("nn_module_stack")
    if not stack:
        return {}
    paths = [v[0] for v in stack.values()]
    types = [v[1] if isinstance(v[1], str) else f"{v[1].__module__}.{v[1].__qualname__}" for v in stack.values()]
    if not paths or paths[0] != "":
        paths.insert(0, "")
        types.insert(0, "")
    return {"pkg.torch.onnx.name_scopes": repr(paths + [fx.name]),
            "pkg.torch.onnx.class_hierarchy": repr(types + [str(fx.target)])}


def _onnx_dtype(name: str) -> int:
    from mmconvert.ir import dtypes

    return dtypes.to_onnx(name)

