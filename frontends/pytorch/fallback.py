"""The torch.onnx route: for a model the native mapping cannot take yet (an ATen op without
a handler) or that torch.export cannot capture.

``torch.onnx.export(dynamo=True)`` comes first, the TorchScript exporter second; the ONNX
they write is read by the ONNX frontend.  Both are run so that names survive:

- ``optimize=False`` (dynamo) and ``do_constant_folding=False`` (TorchScript): the ONNX
  optimizer would merge equal initializers (every fresh LayerNorm's ones and zeros become
  one tensor) and fold ``Transpose(W)`` of each linear layer into a new ``val_N`` tensor;
  without it every initializer keeps its parameter's dotted name and ``W`` stays as it was
  (the PyTorch backend writes ``MatMul(x, Transpose(W))`` back as ``nn.Linear``);
- ``training=PRESERVE`` (TorchScript; the module is in eval mode): the exporter would fold
  each BatchNorm into the convolution before it, and its parameters with it;
- the TorchScript exporter still merges equal parameters, writing ``Identity(kept)`` for
  each other one: :func:`undo_merged_initializers` makes those outputs initializers again,
  under their own names;
- nodes are renamed after the module whose result they compute, read from the
  ``pkg.torch.onnx.name_scopes`` metadata torch.onnx writes on every node (dynamo) or from
  the node's ``/encoder/layer.0/...`` name (TorchScript).
"""

from __future__ import annotations

import ast
import io

import torch

from mmconvert.ir.errors import UnsupportedError
from mmconvert.ir.graph import Graph

from .capture import eval_mode, quiet
from .sources import Source, _first_line


def via_onnx(src: Source, program, output_names: list[str] | None, reason: str) -> Graph:
    """The source converted by torch.onnx and read back; metadata says which exporter ran."""
    errors = []
    proto = None
    how = ""
    if output_names is None:
        output_names = _eager_output_names(src)
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
    from mmconvert.frontends.onnx import load as load_onnx

    graph = load_onnx(proto)
    undo_merged_initializers(graph)
    rename_nodes(graph)
    graph.metadata["pytorch_route"] = {"path": how, "reason": reason}
    return graph


def _eager_output_names(src: Source) -> list[str] | None:
    """Output names from one eager run (the returned structure), when no program gave them."""
    if src.module is None:
        return None
    from torch.utils import _pytree as pytree

    from .capture import output_names_of

    try:
        with eval_mode(src.module), quiet(), torch.no_grad():
            out = src.module(*src.args, **src.kwargs)
        return output_names_of(pytree.tree_flatten(out)[1], tensors_only=pytree.tree_leaves(out))
    except Exception:  # noqa: BLE001 - the exporter will report what is wrong
        return None


def _dynamo(src: Source, program, output_names):
    target = program if program is not None else src.module
    with eval_mode(src.module), quiet():
        onnx_program = torch.onnx.export(target, src.args, kwargs=src.kwargs or None, dynamo=True, optimize=False,
                                         dynamic_shapes=None if program is not None else src.dynamic_shapes,
                                         output_names=output_names, verbose=False, report=False)
    return onnx_program.model_proto


def _torchscript(src: Source, output_names):
    import onnx

    args, names = _positional(src)
    buf = io.BytesIO()
    with eval_mode(src.module), quiet():
        torch.onnx.export(src.module, tuple(args), buf, dynamo=False, do_constant_folding=False, opset_version=18,
                          training=torch.onnx.TrainingMode.PRESERVE, input_names=names, output_names=output_names,
                          dynamic_axes={k: dict(v) for k, v in src.dim_names.items()} or None)
    return onnx.load_from_string(buf.getvalue())


def _positional(src: Source) -> tuple[list, list[str]]:
    """The example inputs as positional arguments (the TorchScript exporter takes no keywords)."""
    import inspect

    from .sources import forward_names

    names = forward_names(src.module)
    if not src.kwargs:
        return list(src.args), names[: len(src.args)]
    given = dict(zip(names, src.args)) | dict(src.kwargs)
    last = max(names.index(n) for n in given if n in names)
    defaults = {}
    if not isinstance(src.module, torch.jit.ScriptModule):
        defaults = {n: p.default for n, p in inspect.signature(src.module.forward).parameters.items()}
    args = [given[n] if n in given else defaults.get(n) for n in names[: last + 1]]
    return args, [n for n in names[: last + 1] if n in given]


def undo_merged_initializers(graph: Graph) -> int:
    """``Identity(initializer)`` -> an initializer of its own under the output's name (the
    TorchScript exporter merges parameters of equal value that way)."""
    changed = 0
    outputs = set(graph.outputs)
    for node in list(graph.nodes):
        if node.op_type == "Identity" and node.inputs and node.inputs[0] in graph.initializers \
                and node.outputs[0] not in outputs:
            graph.remove_node(node.name)
            graph.initializers[node.outputs[0]] = graph.initializers[node.inputs[0]].view()  # its own array object
            changed += 1
    if changed:
        from mmconvert.ir.passes.cleanup import remove_unused_initializers

        remove_unused_initializers(graph)
    return changed


def _scope_of(node) -> str | None:
    """The module path a torch.onnx node ran in."""
    raw = node.metadata.get("pkg.torch.onnx.name_scopes")
    if raw:
        try:
            path = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            return None
        if isinstance(path, list) and len(path) >= 2 and all(isinstance(p, str) for p in path):
            return path[-2]
        return None
    if node.name.startswith("/") and node.name.count("/") >= 2:  # TorchScript: /encoder/layer.0/query/MatMul
        return ".".join(node.name.split("/")[1:-1])
    return None


def rename_nodes(graph: Graph) -> None:
    """Name the node that computes a module call's result after the module (as the native
    route does): within the nodes that ran in a module, the only one read outside it."""
    scope = {n.name: _scope_of(n) for n in graph.nodes}
    members: dict[str, list] = {}
    for node in graph.nodes:
        if scope[node.name]:
            members.setdefault(scope[node.name], []).append(node)
    outputs = set(graph.outputs)

    def inside(consumer, path):
        s = scope.get(consumer.name) or ""
        return s == path or s.startswith(path + ".")

    renames = {}
    for path, group in members.items():
        outs = [n for n in group if any(o in outputs or any(not inside(c, path) for c in graph.consumers(o))
                                        for o in n.outputs if o)]
        if len(outs) == 1:
            renames[outs[0].name] = path
    for old, new in renames.items():
        _rename_node(graph, old, new)


def _rename_node(graph: Graph, old: str, new: str) -> None:
    order = graph.nx.nodes[old]["order"]
    node = graph.remove_node(old)
    node.name = new
    graph.add_node(node)
    graph.nx.nodes[node.name]["order"] = order  # keep its place in the source order
