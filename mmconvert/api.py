"""The Python API: ``load``, ``convert``, ``save``, ``inspect``."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from backends import TARGETS, get_backend
from ir.errors import InputError, MMConvertError, UnsupportedError
from ir.graph import Graph

_VALIDATE_OPTIONS = ("atol", "rtol", "tolerances", "seed", "samples", "dims", "data", "per_layer", "mode")
_LOAD_OPTIONS = ("upgrade_opset", "infer_shapes", "example_inputs", "input_shapes")
FRAMEWORKS = ("onnx", "ir", "pytorch", "tensorflow")
_TF_SUFFIXES = (".keras", ".h5", ".hdf5")
_TORCH_SUFFIXES = (".pt2", ".pt", ".pth", ".ptl")


@dataclass
class ConversionResult:
    source: str
    output: str
    target: str
    graph: Graph
    opset: int | None = None
    seconds: float = 0.0
    parity: Any = None  # a ParityReport once validation has run
    details: dict[str, Any] = field(default_factory=dict)


def detect_framework(source) -> str:
    """Name the framework of ``source``: a path or an in-memory model."""
    mod = type(source).__module__
    if mod.startswith("onnx"):
        return "onnx"
    if isinstance(source, Graph):
        return "ir"
    if mod.startswith("torch"):
        return "pytorch"
    if mod.startswith(("keras", "tensorflow", "tf_keras")):
        return "tensorflow"
    if isinstance(source, (bytes, bytearray)):
        return "onnx"
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"cannot tell the framework of a {type(source).__name__}; pass framework=")
    path = os.fspath(source)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or folder")
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "graph.json")):
            return "ir"
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            return "tensorflow"
        raise InputError(f"{path}: a folder that is neither an mmconvert IR folder nor a SavedModel")
    lower = path.lower()
    if lower.endswith(".onnx"):
        return "onnx"
    if lower.endswith(_TORCH_SUFFIXES):
        return "pytorch"
    if lower.endswith(_TF_SUFFIXES):
        return "tensorflow"
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK"):
        return "pytorch"  # a zip: TorchScript / torch.export archives
    return "onnx"


def load(source, framework: str | None = None, **options) -> Graph:
    """Parse a model into the IR (``framework=None`` detects it)."""
    framework = framework or detect_framework(source)
    if framework == "onnx":
        from frontends import onnx as onnx_frontend

        return onnx_frontend.load(source, **options)
    if framework == "ir":
        if isinstance(source, Graph):
            return source
        import ir

        return ir.load(os.fspath(source))
    if framework in ("pytorch", "tensorflow"):
        raise UnsupportedError(f"the {framework} frontend is not available in this version yet",
                               hint="export the model to ONNX and convert the .onnx file")
    raise InputError(f"unknown framework '{framework}' (choose from {', '.join(FRAMEWORKS)})")


def save(graph: Graph, output, to: str = "onnx", **options) -> str:
    """Write ``graph`` as a ``to`` artifact (``"ir"`` writes the IR folder); returns the path."""
    if to == "ir":
        import ir

        return ir.save(graph, os.fspath(output))
    return get_backend(to).save(graph, os.fspath(output), **options).path


def convert(source, output, to: str = "onnx", framework: str | None = None, validate: bool = True, **options) -> ConversionResult:
    """Load ``source``, emit a ``to`` artifact at ``output``; returns a ConversionResult."""
    backend = get_backend(to)  # a wrong target fails before any work
    start = time.perf_counter()
    load_opts = {k: v for k, v in options.items() if k in _LOAD_OPTIONS}
    graph = load(source, framework, **load_opts)
    emit_opts = {k: v for k, v in options.items() if k not in _LOAD_OPTIONS and k not in _VALIDATE_OPTIONS}
    emitted = backend.save(graph, os.fspath(output), **emit_opts)
    result = ConversionResult(source=str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__,
                              output=emitted.path, target=to, graph=graph, opset=emitted.opset,
                              seconds=time.perf_counter() - start, details=emitted.details)
    if validate:
        check_opts = {k: v for k, v in options.items() if k in _VALIDATE_OPTIONS}
        with _reference_onnx(source, graph) as ref_path:
            from validators.core import validate as run_validation

            try:
                result.parity = run_validation(ref_path, emitted.path, graph, target=to, **check_opts)
            except MMConvertError as e:
                e.message = (f"converted to {emitted.path}, but the parity check could not run: {e.message}"
                             " (give --inputs data.npz or --dim NAME=V, or skip it with --no-validate)")
                raise
    return result


def validate(reference, candidate, framework: str | None = None, target: str | None = None, **options):
    """Numerical parity of ``candidate`` (an artifact path) against ``reference`` (the source
    model, run as ONNX on ONNX Runtime); returns a ``validators.ParityReport``.

    Options: ``atol``, ``rtol``, ``tolerances={output: (atol, rtol)}``, ``seed``, ``samples``,
    ``dims={"batch": 2}``, ``data`` (.npz path, test_data_set folder, or a list of samples),
    ``per_layer``, ``mode`` ("accumulated" or "isolated").
    """
    from validators.core import validate as run_validation

    graph = load(reference, framework)
    with _reference_onnx(reference, graph) as ref_path:
        return run_validation(ref_path, os.fspath(candidate), graph, target=target, **options)


@contextlib.contextmanager
def _reference_onnx(source, graph: Graph):
    """A path to the source as an ONNX file (written to a temporary folder when needed)."""
    if isinstance(source, (str, os.PathLike)) and os.fspath(source).lower().endswith(".onnx") and os.path.isfile(source):
        yield os.fspath(source)
        return
    with tempfile.TemporaryDirectory(prefix="mmconvert-ref-") as tmp:
        path = os.path.join(tmp, "reference.onnx")
        if type(source).__module__.startswith("onnx") and hasattr(source, "SerializeToString"):
            with open(path, "wb") as f:
                f.write(source.SerializeToString())
        else:
            get_backend("onnx").save(graph, path)
        yield path


def inspect(source, framework: str | None = None) -> dict[str, Any]:
    """A summary of a model: ops, inputs/outputs with shapes, parameters, opset."""
    graph = source if isinstance(source, Graph) else load(source, framework, upgrade_opset=False)
    count, size = graph.parameter_count()

    def describe(names):
        return [{"name": n, "type": str(graph.type_of(n)) if graph.type_of(n) else "?"} for n in names]

    hist = graph.op_histogram()
    return {
        "source": str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__,
        "format": graph.metadata.get("source_format", "ir"),
        "producer": " ".join(x for x in (graph.metadata.get("producer_name"), graph.metadata.get("producer_version")) if x),
        "opset_imports": {(k or "ai.onnx"): v for k, v in graph.opset_imports.items()},
        "inputs": describe(graph.real_inputs),
        "outputs": describe(graph.outputs),
        "nodes": sum(hist.values()),
        "ops": dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0]))),
        "parameters": count,
        "parameter_bytes": size,
        "initializers": len(graph.initializers),
    }
