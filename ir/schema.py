"""Check nodes against their ONNX schema (``onnx.defs``)."""

from __future__ import annotations

import numpy as np
import onnx.defs

from .errors import GraphValidationError
from .node import Node
from .opset import get_schema, is_default_domain

_ATTR_KIND = {int(v): k for k, v in onnx.defs.OpSchema.AttrType.__members__.items()}


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_num(v) -> bool:
    return _is_int(v) or isinstance(v, (float, np.floating))


def _is_str(v) -> bool:
    return isinstance(v, (str, bytes))


def _check_value(kind: str, value) -> bool:
    """Whether ``value`` is a Python value of ONNX attribute type ``kind``."""
    from .graph import Graph

    single = {"INT": _is_int, "FLOAT": _is_num, "STRING": _is_str, "TENSOR": lambda v: isinstance(v, np.ndarray),
              "GRAPH": lambda v: isinstance(v, Graph)}
    if kind in single:
        return single[kind](value)
    if kind in ("INTS", "FLOATS", "STRINGS", "TENSORS", "GRAPHS"):
        return isinstance(value, (list, tuple)) and all(single[kind[:-1]](v) for v in value)
    return kind in _PROTO_KINDS and all(hasattr(v, "SerializeToString") for v in (value if kind.endswith("S") else [value]))


_PROTO_KINDS = {"SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"}


def check_structure(node: Node) -> None:
    """Names are strings and every attribute value has its declared ONNX type (an IR folder
    is untrusted input too: its ``graph.json`` could say anything)."""
    for what, names in (("input", node.inputs), ("output", node.outputs)):
        if not isinstance(names, list) or not all(isinstance(t, str) for t in names):
            raise GraphValidationError(f"its {what}s must be tensor names", node=str(node.name))
    if not isinstance(node.op_type, str) or not isinstance(node.domain, str) or not node.op_type:
        raise GraphValidationError("op type and domain must be names", node=str(node.name))
    for name, value in node.attrs.items():
        kind = node.attr_types.get(name)
        if kind is None or not _check_value(kind, value):
            raise GraphValidationError(f"attribute '{name}' does not hold a {kind or 'typed'} value", node=node.name)


def check_node(node: Node, opset_imports: dict[str, int]) -> None:
    """Raise GraphValidationError naming the node if it does not match its schema.

    Ops of custom domains that ONNX does not know are kept as they are, unchecked
    (their attribute values are still checked against their declared types).
    """
    check_structure(node)
    domain = "" if is_default_domain(node.domain) else node.domain
    version = opset_imports.get(domain)
    if version is None:
        if domain == "":
            raise GraphValidationError("the graph imports no default-domain opset", node=node.name)
        return
    schema = get_schema(node.op_type, version, domain)
    if schema is None:
        if domain == "" or onnx.defs.has(node.op_type, domain):
            where = f"domain '{domain}' " if domain else ""
            raise GraphValidationError(f"unknown op '{node.op_type}' in {where}opset {version}", node=node.name)
        return
    for name, value in node.attrs.items():
        spec = schema.attributes.get(name)
        if spec is None:
            raise GraphValidationError(
                f"{node.op_type}-{schema.since_version} has no attribute '{name}'"
                f" (known: {', '.join(sorted(schema.attributes)) or 'none'})", node=node.name)
        want = spec.type.name
        have = node.attr_types.get(name)
        if have is not None and have != want:
            raise GraphValidationError(
                f"attribute '{name}' of {node.op_type} must be {want}, got {have}", node=node.name)
    for name, spec in schema.attributes.items():
        if spec.required and name not in node.attrs:
            raise GraphValidationError(f"{node.op_type} requires attribute '{name}'", node=node.name)
    n_in = len(node.inputs)
    while n_in and not node.inputs[n_in - 1]:
        n_in -= 1
    if not schema.min_input <= n_in <= schema.max_input and not (n_in < schema.min_input and len(node.inputs) >= schema.min_input):
        raise GraphValidationError(
            f"{node.op_type}-{schema.since_version} takes {_range(schema.min_input, schema.max_input)} inputs, got {n_in}",
            node=node.name)
    n_out = len(node.outputs)
    if not schema.min_output <= n_out <= schema.max_output:
        raise GraphValidationError(
            f"{node.op_type}-{schema.since_version} has {_range(schema.min_output, schema.max_output)} outputs, got {n_out}",
            node=node.name)


def _range(lo: int, hi: int) -> str:
    if lo == hi:
        return str(lo)
    return f"{lo} or more" if hi >= 2**31 - 1 else f"{lo} to {hi}"



def onnx_verdict(node: Node, opset_imports: dict[str, int], type_of, const_of) -> str | None:
    """What ONNX itself says is wrong with ``node`` (its checker and strict shape inference,
    on a one-node model with the inputs' known types and constant values), or None when
    ONNX accepts it.  Used to tell an invalid model (a user error) from a backend bug when
    a handler fails."""
    import onnx

    from .onnx_proto import node_proto, tensor_proto, type_proto

    try:
        n = node_proto(node)
        inputs, inits = [], []
        for t in dict.fromkeys(x for x in node.inputs if x):
            c = const_of(t)
            if c is not None and c.dtype != object:
                inits.append(tensor_proto(t, np.asarray(c)))
                continue
            vt = type_of(t)
            vi = onnx.ValueInfoProto(name=t)
            if vt is not None:
                vi.type.CopyFrom(type_proto(vt))
            inputs.append(vi)
        outputs = [onnx.ValueInfoProto(name=o) for o in node.outputs if o]
        g = onnx.helper.make_graph([n], "verdict", inputs, outputs, inits)
        imports = [onnx.helper.make_opsetid(d, v) for d, v in opset_imports.items()]
        model = onnx.helper.make_model(g, opset_imports=imports)
        onnx.checker.check_node(n, _checker_context(opset_imports))
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as e:  # noqa: BLE001 - ONNX's own verdict, whatever its exception type
        return " ".join(str(e).split())[:500] or type(e).__name__
    return None


def _checker_context(opset_imports: dict[str, int]):
    import onnx

    ctx = onnx.checker.C.CheckerContext()
    ctx.ir_version = onnx.IR_VERSION
    ctx.opset_imports = {("" if d == "ai.onnx" else d): v for d, v in opset_imports.items()}
    return ctx
