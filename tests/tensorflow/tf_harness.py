"""Shared helpers of the TensorFlow backend tests: convert, load the emitted folder through
the validator's runner, run it."""

from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN_FAILURES = os.path.join(os.path.dirname(HERE), "known_failures_tensorflow.txt")


def emit(source, folder: str, **options):
    """Convert ``source`` to a TensorFlow folder and return its runner (``run(inputs) -> list``)."""
    import mmconvert
    from mmconvert.validators.runners.tf_runner import Runner

    mmconvert.convert(source, folder, to="tensorflow", validate=False, **options)
    return Runner(folder)


def known_failures() -> dict[str, str]:
    """case name -> reason, from tests/known_failures_tensorflow.txt."""
    import conformance

    return conformance.read_known_failures(KNOWN_FAILURES)


def run_node_case(case, folder: str) -> None:
    """Convert one ONNX node conformance case and check every data set (raises on mismatch)."""
    import conformance

    runner = emit(case.model, folder)
    for inputs, expected in case.data_sets:
        conformance.check_outputs(runner.run(list(inputs)), expected, case.rtol, case.atol)
