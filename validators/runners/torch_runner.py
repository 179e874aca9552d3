"""Runner for an emitted PyTorch folder (``model.py`` + weights + ``manifest.json``).

Per-layer capture goes through a debug path, not through code in ``forward``: the shared
trace machinery (``trace.py``) watches the frame of ``Model.forward``; in isolated mode it
rebinds each local to the reference value, so every following statement runs on
reference inputs.
"""

from __future__ import annotations

import importlib.util
import os
import uuid

import numpy as np
import torch

from mmconvert.ir.errors import InputError, ModelLoadError

from . import read_manifest
from .trace import capture_locals, manifest_locals


def to_numpy(v):
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return [to_numpy(x) for x in v]
    if isinstance(v, torch.Tensor):
        v = v.detach()
        if v.dtype == torch.bfloat16:
            import ml_dtypes

            return v.float().numpy().astype(ml_dtypes.bfloat16)
        return v.numpy().copy()
    return np.asarray(v)


def to_torch(a):
    if isinstance(a, list):
        return [to_torch(x) for x in a]
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype.name == "bfloat16":
        return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.array(a))  # a writeable C-order copy; keeps 0-d arrays 0-d


class Runner:
    target = "pytorch"

    def __init__(self, folder: str):
        self.folder = self.path = os.path.abspath(folder)
        path = os.path.join(self.folder, "model.py")
        name = f"_mmconvert_candidate_{uuid.uuid4().hex[:8]}"
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.model = module.load_model()
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"{path}: cannot load the model: {type(e).__name__}: {e}") from None
        self.manifest = read_manifest(self.folder)
        self.input_names = list(self.manifest.get("inputs", {}))
        self.output_names = list(self.manifest.get("outputs", []))
        self.layouts = self.manifest.get("layouts", {})
        self._forward_code = type(self.model).forward.__code__

    def run(self, inputs: list) -> list:
        try:
            with torch.no_grad():
                out = self.model(*[to_torch(x) for x in inputs])
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{self.folder}: the model failed on these inputs: {type(e).__name__}: {e}") from None
        out = list(out) if isinstance(out, tuple) else [out]
        return [to_numpy(v) for v in out]

    def capture(self, inputs: list, tensors: list[str], reference: dict | None = None) -> dict:
        def rebind(tensor, value):
            if reference is None or tensor not in reference:
                return None
            ref = to_torch(reference[tensor])
            return ref.to(value.dtype) if ref.shape == value.shape else None

        feeds = [to_torch(x) for x in inputs]

        def call():
            with torch.no_grad():
                self.model(*feeds)
        return capture_locals(self._forward_code, call, manifest_locals(self.manifest, tensors),
                              lambda v: isinstance(v, torch.Tensor), to_numpy,
                              rebind if reference is not None else None)
