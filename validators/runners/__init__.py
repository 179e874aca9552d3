"""Runners: execute a model (the reference or a candidate artifact) on numpy inputs.

One runner per target, registered here by name; a new backend adds one runner module
whose ``Runner`` class keeps the contract below (:class:`RunnerProtocol`).  Which runner a
candidate needs is read from the artifact itself: an ONNX file, or a folder whose
``manifest.json`` names its target (never guessed from the source text).
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Protocol, runtime_checkable

from mmconvert.ir.errors import InputError, UnsupportedError

RUNNERS = {"onnx": "mmconvert.validators.runners.onnx_runner", "pytorch": "mmconvert.validators.runners.torch_runner",
           "tensorflow": "mmconvert.validators.runners.tf_runner", "saved_model": "mmconvert.validators.runners.saved_model_runner",
           "tflite": "mmconvert.validators.runners.tflite_runner"}
# runners of a source model in its own framework (the parity reference for non-ONNX sources);
# a module here defines ``reference(source, graph, **options) -> RunnerProtocol``
REFERENCES = {"pytorch": "mmconvert.validators.runners.torch_source", "tensorflow": "mmconvert.validators.runners.tf_source"}


@runtime_checkable
class RunnerProtocol(Protocol):
    """The runner contract.

    - ``target``: the runner's name ("onnx", "pytorch" ...).
    - ``path``: what it runs (a path, or a description of an in-memory model).
    - ``input_names`` / ``output_names``: the model's inputs in calling order and its
      outputs in return order, as IR tensor names.
    - ``layouts``: tensor -> the permutation that brings this runner's value of the tensor
      to the reference (ONNX) layout; empty when every tensor keeps its ONNX layout.
    - ``run(inputs) -> list``: the outputs (numpy arrays, lists for sequences, None for an
      empty optional) for ``inputs`` given in ``input_names`` order.  A failure on these
      inputs raises ``InputError`` saying what the model reported.
    - ``capture(inputs, tensors, reference=None) -> {tensor: array}``: the intermediate
      tensors among ``tensors`` it computed while running ``inputs``; with ``reference``
      (isolated mode) each node is fed the reference values of its inputs instead of its
      own upstream results.  Tensors it cannot observe are simply absent.
    """

    target: str
    path: str
    input_names: list[str]
    output_names: list[str]
    layouts: dict[str, list[int]]

    def run(self, inputs: list) -> list: ...

    def capture(self, inputs: list, tensors: list[str], reference: dict | None = None) -> dict: ...


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
        from mmconvert.frontends import get_frontend

        if get_frontend("onnx").detect(path):
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


def reference_runner(framework: str, source, graph, **options) -> RunnerProtocol | None:
    """A runner of ``source`` in its own framework (the parity reference), or None when the
    reference is the source as ONNX on ONNX Runtime (ONNX and IR sources).  Its input and
    output names are the graph's."""
    if framework not in REFERENCES:
        return None
    try:
        module = importlib.import_module(REFERENCES[framework])
    except ModuleNotFoundError as e:
        if e.name == REFERENCES[framework]:
            return None
        raise UnsupportedError(f"running a {framework} source needs '{e.name}': pip install 'mmconvert[{framework}]'") from None
    return module.reference(source, graph, **options)
