"""The TensorFlow backend's entry points: preflight, emit, supported ops.

``emit`` prepares a copy of the graph first (the same steps whether it came through
``mmconvert.convert``, whose pipeline has already run ``PASSES``, or through
``mmconvert.save``): ops with no handler but an ONNX function body are expanded, the
external layout the user asked for is applied, and the layout passes run to a fixed
point.  Then the shared core writes ``model.py``, ``weights.safetensors`` and
``manifest.json``; the SavedModel and TFLite exports are made from that folder.
"""

from __future__ import annotations

from mmconvert.backends import EmitResult
from mmconvert.backends.codegen import core
from mmconvert.ir.graph import Graph
from mmconvert.ir.node import Node
from mmconvert.ir.opset import CANONICAL_OPSET
from mmconvert.ir.passes.expand import expand_functions, has_function

from .dialect import DIALECT
from .registry import REGISTRY

# the passes the pipeline runs before emit (and emit again, for graphs that skipped it)
PASSES: tuple[str, ...] = ("remove_dead_nodes", "remove_unused_initializers", "fold_constants", "fuse_gelu",
                           "channels_last", "push_transposes", "cancel_transposes")


def _load_ops() -> None:
    from . import ops  # noqa: F401 - registers the handlers


def _expandable(graph: Graph):
    version = graph.opset_imports.get("", CANONICAL_OPSET)

    def wanted(node: Node) -> bool:
        return REGISTRY.lookup(node.op_type, "", version) is None and has_function(node.op_type, version)

    return wanted


def missing_ops(graph: Graph) -> dict[tuple[str, str], list[str]]:
    """Ops with neither a handler nor an ONNX function body to expand."""
    _load_ops()
    version = graph.opset_imports.get("", CANONICAL_OPSET)
    missing = core.missing_ops(REGISTRY, graph)
    return {k: v for k, v in missing.items() if not (k[0] == "" and has_function(k[1], version))}


def preflight(graph: Graph) -> None:
    from mmconvert.ir.errors import UnsupportedOpsError

    missing = missing_ops(graph)
    if missing:
        raise UnsupportedOpsError("tensorflow", missing)


def supported_ops() -> dict[str, list[str]]:
    """Registered handlers, plus the ONNX ops emitted through their function body."""
    import onnx.defs

    _load_ops()
    table = REGISTRY.supported()
    for schema in onnx.defs.get_all_schemas():
        if schema.domain == "" and schema.name not in table and has_function(schema.name, CANONICAL_OPSET):
            table[schema.name] = [f"{schema.since_version}+ (ONNX function)"]
    return dict(sorted(table.items()))


def prepare(graph: Graph, *, inputs_as_nhwc=None, outputs_as_nhwc=None) -> Graph:
    """A copy of ``graph`` ready to emit: functions expanded, external layout applied,
    layout passes run."""
    from mmconvert.ir.passes import run_pipeline
    from mmconvert.ir.passes.layout import set_external_layout

    _load_ops()
    graph = graph.copy()
    expand_functions(graph, _expandable(graph))
    if inputs_as_nhwc or outputs_as_nhwc:
        set_external_layout(graph, inputs=inputs_as_nhwc, outputs=outputs_as_nhwc)
    run_pipeline(graph, PASSES)
    return graph


def generate(graph: Graph, **options) -> core.Module:
    """The module (source, stored arrays, manifest) of ``graph``, prepared as ``emit`` does."""
    return core.generate(DIALECT, prepare(graph, **options))


def emit(graph: Graph, path: str, *, inputs_as_nhwc=None, outputs_as_nhwc=None, saved_model: bool = False,
         tflite: bool = False, tflite_quantize: str | None = None) -> EmitResult:
    """Write ``graph`` as a TensorFlow folder (``model.py``, ``weights.safetensors``,
    ``manifest.json``; with ``saved_model``/``tflite`` also ``saved_model/`` and
    ``model.tflite``) at ``path``, a fresh staging path."""
    preflight(graph)
    module = generate(graph, inputs_as_nhwc=inputs_as_nhwc, outputs_as_nhwc=outputs_as_nhwc)
    core.write_folder(path, module, DIALECT)
    details = {"model": "model.py", "parameters": len(module.state)}
    if saved_model or tflite or tflite_quantize:
        from .export import export

        details["exports"] = export(path, saved_model=saved_model, tflite=bool(tflite or tflite_quantize),
                                    quantize=tflite_quantize)
    return EmitResult(path=path, target="tensorflow", opset=graph.opset_imports.get("", CANONICAL_OPSET),
                      details=details)


__all__ = ["PASSES", "emit", "generate", "missing_ops", "preflight", "prepare", "supported_ops"]
