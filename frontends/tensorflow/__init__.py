"""TensorFlow / Keras frontend: a SavedModel folder, a Keras 3 ``.keras`` file, a legacy
``.h5``, an in-memory ``keras.Model``, a ``tf.function`` with an input signature or a
concrete function -> ``ir.Graph``.

The route is the one Keras 3 takes in ``model.export(format="onnx")``: the source becomes
one concrete function (:mod:`.trace`), which is frozen and translated by tf2onnx used as a
library (:mod:`.translate`), then read by the ONNX frontend.  Two things differ from a
plain tf2onnx run:

- the model's variables enter tf2onnx as graph inputs, not constants, so neither
  grappler nor tf2onnx folds them away or merges them (a zero bias, a BatchNorm): each
  Keras weight comes out as one initializer named after it (``conv1_conv/kernel``),
  stored in the layout the ONNX op reads (see ``ir.passes.weights``);
- node and tensor names are cleaned of TensorFlow's and tf2onnx's additions
  (``StatefulPartitionedCall/``, the model's own scope, ``_1`` scope suffixes,
  ``/ReadVariableOp``, ``:0``, ``__12``) by :mod:`.names`.

``detect`` judges by content and never imports TensorFlow for a file that is not one
of its formats.
"""

from __future__ import annotations

import os
import zipfile

from mmconvert.ir.options import Option

NAME = "tensorflow"
REQUIRES = "tensorflow"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TF_MODULES = ("keras", "tensorflow", "tf_keras")


# the options load() takes (name -> Option: what it does): the API refuses any other
OPTIONS = {
    "signature": Option("the SavedModel signature to convert (default serving_default)"),
    "input_shapes": Option("{name: dims}: the input signature of a model that has none, or an override"),
    "input_dtypes": Option("{name: dtype} for input_shapes"),
    "example_inputs": Option("arrays giving a tf.function without input_signature its shapes"),
    "infer_shapes": Option("run ONNX shape inference on the translated graph (default True)"),
    "trust_source_ops": Option("trace and run a model whose graph holds ops with effects outside the model"),
}


def detect(source) -> bool:
    """A keras / tensorflow object in memory, a SavedModel folder, a Keras 3 ``.keras`` zip
    (``config.json`` + weights) or an HDF5 file."""
    if type(source).__module__.split(".")[0] in _TF_MODULES:
        return True
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = os.fspath(source)
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, "saved_model.pb"))
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        if head == _HDF5_MAGIC:
            return True
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist()[:2000])
        return "config.json" in names and any(n.endswith(".weights.h5") or n == "model.weights.h5" for n in names)
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def load(source, **options):
    """The model as a validated IR graph (at tf2onnx's opset; the pipeline normalizes it);
    the options are :func:`open_source`'s."""
    return open_source(source, **options).graph


def open_source(source, *, signature: str | None = None, input_shapes: dict | None = None,
                input_dtypes: dict | None = None, example_inputs=None, infer_shapes: bool = True,
                trust_source_ops: bool = False):
    """The model as a validated IR graph with its parity reference: the traced source itself,
    run by TensorFlow (``reference.py``).

    ``signature`` picks a SavedModel's signature (default ``serving_default``);
    ``input_shapes={name: dims}`` / ``input_dtypes={name: dtype}`` / ``example_inputs``
    give (or override) the input signature of a model that has none (a subclassed Keras
    model never called, a ``tf.function`` without ``input_signature``).

    Ops with effects outside the model (files, printing to files, tf.data, Python code,
    network) are refused before anything runs (UnsafeSourceError, exit 2, see
    ``ir/tf_safety.py``); ``trust_source_ops=True`` runs them.  The stateful ops no output
    depends on, which the artifact lacks, are listed in ``graph.metadata["dropped_ops"]``
    ([{"op", "function", "node"}]).
    """
    from mmconvert.frontends import LoadedSource

    from .reference import SourceRunner
    from .trace import trace
    from .translate import to_graph

    traced = trace(source, signature=signature, input_shapes=input_shapes, input_dtypes=input_dtypes,
                   example_inputs=example_inputs, trust_source_ops=trust_source_ops)
    graph = to_graph(traced, infer_shapes=infer_shapes)
    graph.metadata["dropped_ops"] = [dict(d) for d in traced.dropped_ops]
    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else graph.metadata.get("source", type(source).__name__)
    return LoadedSource(graph, SourceRunner(traced.call, str(path), graph.real_inputs, graph.outputs))


__all__ = ["NAME", "OPTIONS", "REQUIRES", "detect", "load", "open_source"]
