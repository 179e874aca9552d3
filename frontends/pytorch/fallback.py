"""The torch.onnx route: for a model the native mapping cannot take yet (an ATen op without
a handler) or that torch.export cannot capture.

``torch.onnx.export(dynamo=True)`` comes first, the TorchScript exporter second; the ONNX
they write is read by the ONNX frontend.  Both are run so that names survive:

- ``optimize=False`` (dynamo) and ``do_constant_folding=False`` (TorchScript): the ONNX
  optimizer would merge equal initializers (every fresh LayerNorm's ones and zeros become
  one tensor) and fold ``Transpose(W)`` of each linear layer into a new ``val_N`` tensor;
  without it every initializer keeps its parameter's dotted name and ``W`` stays as it was
  (the PyTorch backend writes ``MatMul(x, Transpose(W))`` back as ``nn.Linear``);
- nodes are renamed after the module that ran them, read from the
  ``pkg.torch.onnx.name_scopes`` metadata torch.onnx writes on every node.
"""

from __future__ import annotations

import ast
import io
import warnings

import torch

from ir.errors import UnsupportedError
from ir.graph import Graph

from .capture import eval_mode
from .sources import Source, _first_line


def via_onnx(src: Source, program, output_names: list[str] | None, reason: str) -> Graph:
    """The source converted by torch.onnx and read back; metadata says which exporter ran."""
    errors = []
    proto = None
    how = ""
    if src.kind != "torchscript":
        try:
            proto = _dynamo(src, program, output_names)
            how = "torch.onnx.export(dynamo=True)"
        except Exception as e:  # noqa: BLE001 - torch.onnx raises many types
            errors.append(f"torch.onnx (dynamo): {type(e).__name__}: {_first_line(e)}")
    if proto is None and src.module is not None:
        try:
            proto = _torchscript(src, output_names)
            how = "torch.onnx.export(dynamo=False), the TorchScript exporter"
        except Exception as e:  # noqa: BLE001
            errors.append(f"torch.onnx (TorchScript): {type(e).__name__}: {_first_line(e)}")
    if proto is None:
        raise UnsupportedError(f"{src.description}: cannot convert this model: {reason}; " + "; ".join(errors),
                               hint="report the op or construct; torch.onnx could not export it either")
    from frontends.onnx import load as load_onnx

    graph = load_onnx(proto)
    rename_nodes(graph)
    graph.metadata["pytorch_route"] = {"path": how, "reason": reason}
    return graph


def _dynamo(src: Source, program, output_names):
    target = program if program is not None else src.module
    with eval_mode(src.module), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_program = torch.onnx.export(target, src.args, kwargs=src.kwargs or None, dynamo=True, optimize=False,
                                         dynamic_shapes=None if program is not None else src.dynamic_shapes,
                                         output_names=output_names, verbose=False, report=False)
    return onnx_program.model_proto


def _torchscript(src: Source, output_names):
    import onnx

    args, names = _positional(src)
    buf = io.BytesIO()
    with eval_mode(src.module), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(src.module, tuple(args), buf, dynamo=False, do_constant_folding=False, opset_version=18,
                          input_names=names, output_names=output_names,
                          dynamic_axes={k: dict(v) for k, v in src.dim_names.items()} or None)
    return onnx.load_from_string(buf.getvalue())


def _positional(src: Source) -> tuple[list, list[str]]:
    """The example inputs as positional arguments (the TorchScript exporter takes no keywords)."""
    import inspect

    if not src.kwargs:
        from .sources import forward_names

        return list(src.args), forward_names(src.module)[: len(src.args)]
    sig = inspect.signature(src.module.forward)
    bound = sig.bind_partial(*src.args, **src.kwargs)
    params = list(sig.parameters)
    last = max(params.index(n) for n in bound.arguments)
    args = [bound.arguments.get(n, sig.parameters[n].default) for n in params[: last + 1]]
    return args, [n for n in params[: last + 1] if n in bound.arguments]


def rename_nodes(graph: Graph) -> None:
    """Name each node after the module whose call it is (as the native path does), from
    torch.onnx's ``pkg.torch.onnx.name_scopes`` metadata: the node reading a module's own
    parameter, or the only node of a module, takes the module's path."""
    scopes: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for node in graph.nodes:
        raw = node.metadata.get("pkg.torch.onnx.name_scopes")
        if not raw:
            continue
        try:
            path = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            continue
        if isinstance(path, list) and len(path) >= 2 and all(isinstance(p, str) for p in path):
            scopes[node.name] = path
            counts[path[-2]] = counts.get(path[-2], 0) + 1
    renames = {}
    for node in graph.nodes:
        path = scopes.get(node.name)
        if path is None:
            continue
        module = path[-2]
        if not module:
            continue
        owns = any(t.rpartition(".")[0] == module for t in node.inputs if t in graph.initializers)
        if owns or counts.get(module) == 1:
            renames[node.name] = module
    for old, new in renames.items():
        _rename_node(graph, old, new)


def _rename_node(graph: Graph, old: str, new: str) -> None:
    order = graph.nx.nodes[old]["order"]
    node = graph.remove_node(old)
    node.name = new
    graph.add_node(node)
    graph.nx.nodes[node.name]["order"] = order  # keep its place in the source order
