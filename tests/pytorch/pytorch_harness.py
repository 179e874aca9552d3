"""Shared helpers of the PyTorch backend tests: convert, import the emitted module, run it."""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys

from mmconvert.validators.runners.torch_runner import to_numpy, to_torch  # the validator's conversions, shared

_COUNTER = itertools.count()
HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN_FAILURES = os.path.join(os.path.dirname(HERE), "known_failures_pytorch.txt")


def import_model_py(folder: str):
    """Import ``folder/model.py`` as a fresh module."""
    name = f"_mmconvert_emitted_{next(_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, "model.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def emit(source, folder: str, **options):
    """Convert ``source`` to a PyTorch folder and return the loaded model."""
    import mmconvert

    mmconvert.convert(source, folder, to="pytorch", validate=False, **options)
    return import_model_py(folder).load_model()


def run(model, inputs) -> list:
    import torch

    with torch.no_grad():
        out = model(*[to_torch(i) for i in inputs])
    if not isinstance(out, tuple):
        out = (out,)
    return [to_numpy(o) for o in out]


def known_failures() -> dict[str, str]:
    """case name -> reason, from tests/known_failures_pytorch.txt."""
    import conformance

    return conformance.read_known_failures(KNOWN_FAILURES)


def run_node_case(case, folder: str) -> None:
    """Convert one ONNX node conformance case and check every data set (raises on mismatch)."""
    import conformance

    model = emit(case.model, folder)
    for inputs, expected in case.data_sets:
        conformance.check_outputs(run(model, inputs), expected, case.rtol, case.atol)
