"""Runners: execute a model (the reference or a candidate artifact) on numpy inputs.

One runner per target, registered here by name; a new backend adds one runner module
whose ``Runner`` class keeps the contract of ``ir/runner.py`` (:class:`RunnerProtocol`).
The parity reference of a PyTorch or TensorFlow source is not here: its frontend returns
it with the graph (``frontends.open_source``), so this package depends on ``ir`` only.  Which runner a
candidate needs is read from the artifact itself: an ONNX file, or a folder whose
``manifest.json`` names its target (never guessed from the source text).
"""

from __future__ import annotations

import importlib
import json
import os
from mmconvert.ir.errors import InputError, UnsupportedError
from mmconvert.ir.runner import RunnerProtocol  # noqa: F401 - the contract every runner here keeps

RUNNERS = {"onnx": "mmconvert.validators.runners.onnx_runner", "pytorch": "mmconvert.validators.runners.torch_runner",
           "tensorflow": "mmconvert.validators.runners.tf_runner", "saved_model": "mmconvert.validators.runners.saved_model_runner",
           "tflite": "mmconvert.validators.runners.tflite_runner"}


def read_manifest(folder: str) -> dict:
    """The ``manifest.json`` of an emitted folder ({} when there is none or it is unreadable)."""
    path = os.path.join(folder, "manifest.json")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def detect_target(path: str) -> str:
    """The kind of a candidate artifact: an ``.onnx`` file, or the target its manifest names."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or folder")
    if os.path.isfile(path):
        from mmconvert.ir.onnx_wire import is_model_file

        if is_model_file(path):
            return "onnx"
        with open(path, "rb") as f:
            if f.read(8)[4:8] == b"TFL3":
                return "tflite"
        raise InputError(f"{path}: not a candidate artifact (an .onnx file, a .tflite file or an emitted folder)")
    target = read_manifest(path).get("target")
    if target in RUNNERS:
        return target
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return "saved_model"
    if os.path.isfile(os.path.join(path, "model.py")):
        raise InputError(f"{path}: its manifest.json does not name a target (an artifact of an older mmconvert?)",
                         hint="pass --target pytorch|tensorflow, or convert the model again")
    raise InputError(f"{path}: not a candidate artifact (an .onnx file or a folder with model.py and manifest.json)")


def get_runner(path: str, target: str | None = None) -> RunnerProtocol:
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
