"""Runner for an emitted TensorFlow folder (``model.py`` + weights + ``manifest.json``).

``run`` calls the model's ``__call__`` (a ``tf.function``).  Inputs and outputs the
artifact takes in another layout (``--inputs-as-nhwc`` / ``--outputs-as-nhwc``, recorded in
the manifest's ``layouts``) are transposed here, so the caller always speaks the
reference's layout.

Per-layer capture runs the same function eagerly (its ``python_function``) under the
shared trace machinery (``trace.py``); in isolated mode each local is rebound to the
reference value in the layout the manifest records for it.
"""

from __future__ import annotations

import importlib.util
import os
import uuid

import numpy as np

from mmconvert.ir.errors import InputError, ModelLoadError

from . import read_manifest
from .trace import capture_locals, manifest_locals


def to_numpy(v):
    """A TensorFlow value (tensor, variable, list of them, None) as numpy; strings as str."""
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return [to_numpy(x) for x in v]
    if hasattr(v, "numpy"):
        v = v.numpy()
    a = np.asarray(v)
    if a.dtype == object or a.dtype.kind == "S":
        flat = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in a.reshape(-1)]
        a = np.array(flat, dtype=object).reshape(a.shape)
    return a


def to_tf(a):
    """A numpy value (or a list of them, for sequence inputs) as something a tf.function takes."""
    import tensorflow as tf

    if a is None:
        return None
    if isinstance(a, list):
        return [to_tf(x) for x in a]
    a = np.asarray(a)
    if a.dtype == object or a.dtype.kind in "SU":
        return tf.constant(a.astype(object), dtype=tf.string)
    if a.dtype.name == "bfloat16":
        return tf.cast(tf.constant(a.astype(np.float32)), tf.bfloat16)
    return tf.constant(a)


def external(values: list, names: list[str], layouts: dict, inverse: bool) -> list:
    """Bring values of ``names`` between the reference layout and the artifact's: with
    ``inverse`` to the artifact's (inputs), else to the reference's (outputs)."""
    out = []
    for name, v in zip(names, values):
        perm = layouts.get(name)
        if perm is not None and v is not None and not isinstance(v, list):
            v = np.transpose(np.asarray(v), np.argsort(perm) if inverse else perm)
        out.append(v)
    return out


def load_module(path: str):
    name = f"_mmconvert_candidate_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Runner:
    target = "tensorflow"

    def __init__(self, folder: str):
        self.folder = self.path = os.path.abspath(folder)
        path = os.path.join(self.folder, "model.py")
        try:
            self.model = load_module(path).load_model()
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"{path}: cannot load the model: {type(e).__name__}: {e}") from None
        self.manifest = read_manifest(self.folder)
        self.input_names = list(self.manifest.get("inputs", {}))
        self.output_names = list(self.manifest.get("outputs", []))
        self.layouts = self.manifest.get("layouts", {})

    def _feed(self, inputs: list) -> list:
        return [to_tf(x) for x in external(list(inputs), self.input_names, self.layouts, inverse=True)]

    def _results(self, out) -> list:
        out = list(out) if isinstance(out, tuple) else [out]
        return external([to_numpy(v) for v in out], self.output_names, self.layouts, inverse=False)

    def run(self, inputs: list) -> list:
        try:
            out = self.model(*self._feed(inputs))
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{self.folder}: the model failed on these inputs: {type(e).__name__}: "
                             f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}") from None
        return self._results(out)

    def capture(self, inputs: list, tensors: list[str], reference: dict | None = None) -> dict:
        import tensorflow as tf

        def rebind(tensor, value):
            if reference is None or reference.get(tensor) is None:
                return None
            ref = np.asarray(reference[tensor])
            perm = self.layouts.get(tensor)
            if perm is not None:
                ref = np.transpose(ref, np.argsort(perm))
            if tuple(ref.shape) != tuple(value.shape) or ref.dtype == object:
                return None
            return tf.cast(tf.constant(ref), value.dtype)

        fn = type(self.model).__call__.python_function
        feeds = self._feed(inputs)
        return capture_locals(fn.__code__, lambda: fn(self.model, *feeds), manifest_locals(self.manifest, tensors),
                              lambda v: isinstance(v, (tf.Tensor, tf.Variable)), to_numpy,
                              rebind if reference is not None else None)
