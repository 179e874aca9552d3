"""Function expansion: an ONNX op that the schema defines as a function of other ops
(LayerNormalization, Attention, the losses ...) can be replaced by that function's body.

A backend expands the ops it has no handler for (:func:`expand_functions` with a
predicate), so the ONNX definition itself is what it emits: exact by construction, one
statement per primitive op.  The body comes from ``onnx.defs`` (the context-dependent
ones are built for the node's input types), is renamed under the node's name, moved
from the function's opset to the graph's, and its intermediate tensors get their types
from ONNX shape inference.
"""

from __future__ import annotations

from typing import Callable

import onnx

from ..graph import Graph
from ..node import Node
from ..onnx_proto import graph_from_proto, node_proto, type_proto, value_info
from ..opset import CANONICAL_OPSET, get_schema, is_default_domain


def has_function(op_type: str, version: int, domain: str = "") -> bool:
    """Whether ONNX defines ``op_type`` (as it is at opset ``version``) by a function body."""
    schema = get_schema(op_type, version, domain)
    return schema is not None and bool(_versions(schema, version))


def _versions(schema, version: int) -> list[tuple[int, bool]]:
    """(function opset, context dependent?) of the bodies usable at ``version``, newest first."""
    out = [(v, False) for v in schema.function_opset_versions if v <= version]
    out += [(v, True) for v in schema.context_dependent_function_opset_versions if v <= version]
    return sorted(out, reverse=True)


def function_body(graph: Graph, node: Node, version: int) -> Graph | None:
    """The body of ``node``'s function as a small graph at the graph's opset: its inputs
    and outputs are the node's tensors, its other tensors are named ``<node>/<name>``.
    None when ONNX has no body for it or the body needs input types that are unknown."""
    domain = "" if is_default_domain(node.domain) else node.domain
    schema = get_schema(node.op_type, version, domain)
    if schema is None:
        return None
    np_ = node_proto(node)
    given = {a.name for a in np_.attribute}
    for name, spec in schema.attributes.items():
        if name not in given and spec.default_value is not None and spec.default_value.type:
            np_.attribute.append(spec.default_value)
    for fn_version, contextual in _versions(schema, version):
        if contextual:
            types = []
            for t in node.inputs:
                vt = graph.type_of(t) if t else None
                if t and (vt is None or vt.dtype is None):
                    return None
                types.append(type_proto(vt).SerializeToString() if t else onnx.TypeProto().SerializeToString())
            raw = schema.get_context_dependent_function_with_opset_version(fn_version, np_.SerializeToString(), types)
        else:
            raw = schema.get_function_with_opset_version(fn_version)
        if not raw:
            continue
        fn = onnx.FunctionProto()
        fn.ParseFromString(raw)
        return _instantiate(graph, node, np_, fn)
    return None


def _instantiate(graph: Graph, node: Node, np_: onnx.NodeProto, fn: onnx.FunctionProto) -> Graph | None:
    attrs = {a.name: a for a in np_.attribute}
    names = {f: (node.inputs[i] if i < len(node.inputs) else "") for i, f in enumerate(fn.input)}
    names.update({f: node.outputs[i] for i, f in enumerate(fn.output) if i < len(node.outputs) and node.outputs[i]})
    used = graph.defined_names()

    def rename(name: str) -> str:
        if not name:
            return ""
        if name not in names:
            base = f"{node.name}/{name}"
            fresh, k = base, 1
            while fresh in used:
                fresh, k = f"{base}_{k}", k + 1
            used.add(fresh)
            names[name] = fresh
        return names[name]

    def scoped(g: onnx.GraphProto) -> None:
        """Rename a nested body's reads of the function's tensors (its own names stay)."""
        own = {i.name for i in g.input} | {t.name for t in g.initializer} | {o for n in g.node for o in n.output}
        for n in g.node:
            for k, t in enumerate(n.input):
                if t and t not in own and t in names:
                    n.input[k] = names[t]
            for a in n.attribute:
                for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                    scoped(sub)
        for o in g.output:
            if o.name not in own and o.name in names:
                o.name = names[o.name]

    body = []
    for k, inner in enumerate(fn.node):
        n = onnx.NodeProto()
        n.CopyFrom(inner)
        n.name = f"{node.name}/{inner.name or inner.op_type.lower() + str(k)}"
        del n.input[:], n.output[:], n.attribute[:]
        n.input.extend(rename(t) for t in inner.input)
        n.output.extend(rename(t) for t in inner.output)
        for a in inner.attribute:
            if a.ref_attr_name:
                if a.ref_attr_name in attrs:
                    ref = onnx.AttributeProto()
                    ref.CopyFrom(attrs[a.ref_attr_name])
                    ref.name = a.name
                    n.attribute.append(ref)
            else:
                n.attribute.append(a)
        for a in n.attribute:
            for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                scoped(sub)
        body.append(n)
    ins = [t for t in dict.fromkeys(node.inputs) if t]
    opsets = {o.domain: o.version for o in fn.opset_import}
    fn_version = opsets.get("", opsets.get("ai.onnx", CANONICAL_OPSET))
    gp = onnx.helper.make_graph(body, "body", [value_info(graph, t) for t in ins],
                                [value_info(graph, t) for t in node.outputs if t])
    model = onnx.helper.make_model(gp, opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in opsets.items()])
    try:
        model = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - types stay unknown; the backend copes or says so
        pass
    sub = graph_from_proto(model.graph, onnx.numpy_helper.to_array)
    sub.opset_imports = {"": fn_version, **{d: v for d, v in opsets.items() if d not in ("", "ai.onnx")}}
    from .opset import upgrade

    upgrade(sub, graph.opset_imports.get("", CANONICAL_OPSET))
    for t in node.outputs:  # the node's declared types win over inference
        if t and graph.type_of(t) is not None:
            sub.values[t] = graph.type_of(t)
    return sub


def expand_node(graph: Graph, node: Node, version: int) -> bool:
    """Replace ``node`` by its function body (False, graph untouched, when it has none)."""
    sub = function_body(graph, node, version)
    if sub is None:
        return False
    graph.remove_node(node.name)
    for name, arr in sub.initializers.items():
        graph.initializers[name] = arr
    for name, vt in sub.values.items():
        if name not in sub.inputs:
            graph.values.setdefault(name, vt)
    for inner in sub.nodes:
        graph.add_node(inner)
    return True


def expand_functions(graph: Graph, wanted: Callable[[Node], bool]) -> int:
    """Replace every node for which ``wanted(node)`` holds by its ONNX function body, until
    no such node is left (a body may use other function ops); subgraphs included."""
    changed = 0
    for g in graph.iter_graphs():
        version = graph.opset_imports.get("", CANONICAL_OPSET)
        for _ in range(8):  # bodies nest a few levels at most
            todo = [n for n in g.nodes if is_default_domain(n.domain) and wanted(n)]
            done = sum(expand_node(g, n, version) for n in todo)
            changed += done
            if not done:
                break
    return changed


__all__ = ["expand_functions", "expand_node", "function_body", "has_function", "type_proto"]
