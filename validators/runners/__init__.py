"""Runners: execute a model (the reference or a candidate artifact) on numpy inputs.

One runner per target, registered here by name; a new backend adds one runner module.
A runner exposes ``input_names``, ``output_names``, ``run(inputs) -> list``, and for the
per-layer mode ``capture(inputs, tensors, reference=None) -> {tensor: array}``: the
intermediate tensors it computed; with ``reference`` given (isolated mode) each node is fed
the reference values of its inputs instead of its own upstream results.  ``layouts`` maps
a tensor to the permutation that brings the runner's value to the reference layout.
"""

from __future__ import annotations

import importlib
import os

from ir.errors import InputError, UnsupportedError

RUNNERS = {"onnx": "validators.runners.onnx_runner", "pytorch": "validators.runners.torch_runner",
           "tensorflow": "validators.runners.tf_runner"}


def detect_target(path: str) -> str:
    if os.path.isfile(path):
        if path.lower().endswith(".onnx"):
            return "onnx"
        raise InputError(f"{path}: not a candidate artifact (an .onnx file or an emitted folder)")
    model_py = os.path.join(path, "model.py")
    if os.path.isdir(path) and os.path.isfile(model_py):
        with open(model_py) as f:
            text = f.read()
        if "import torch" in text:
            return "pytorch"
        if "import tensorflow" in text:
            return "tensorflow"
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or folder")
    raise InputError(f"{path}: not a candidate artifact (an .onnx file or a folder with model.py)")


def get_runner(path: str, target: str | None = None):
    target = target or detect_target(path)
    if target not in RUNNERS:
        raise InputError(f"unknown target '{target}' (choose from {', '.join(RUNNERS)})")
    try:
        module = importlib.import_module(RUNNERS[target])
    except ModuleNotFoundError as e:
        if e.name == RUNNERS[target]:
            raise UnsupportedError(f"no {target} runner in this version yet") from None
        raise UnsupportedError(f"running a {target} artifact needs '{e.name}': pip install 'mmconvert[{target}]'") from None
    return module.Runner(path)
