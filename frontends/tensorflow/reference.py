"""Parity reference for TensorFlow / Keras sources: the source itself, run by TensorFlow.

A Keras model is called eagerly (``training=False``), a SavedModel through the chosen
signature, a ``tf.function`` as it is: the conversion is compared with what the user's
model computes, not with tf2onnx's translation of it.  Inputs and outputs are the IR
graph's, in its order (the frontend derives both from the same signature).

:func:`frontends.tensorflow.open_source` returns it with the graph (a ``RunnerProtocol`` of
``ir/runner.py``): the call it runs is the one the frontend traced and checked (ops with
effects outside the model refused unless ``trust_source_ops``).
"""

from __future__ import annotations

import numpy as np

from mmconvert.ir.errors import InputError


class SourceRunner:
    target = "tensorflow"
    layouts: dict[str, list[int]] = {}

    def __init__(self, call, path: str, input_names: list[str], output_names: list[str]):
        self._call = call
        self.path = path
        self.input_names = list(input_names)
        self.output_names = list(output_names)

    def run(self, inputs: list) -> list:
        try:
            outs = self._call([np.asarray(x) for x in inputs])
        except Exception as e:  # noqa: BLE001 - TensorFlow raises its own types
            raise InputError(f"{self.path}: TensorFlow failed on these inputs: {type(e).__name__}: "
                             f"{' '.join(str(e).split())[:2000]}") from None
        if len(outs) != len(self.output_names):
            raise InputError(f"{self.path}: the source returned {len(outs)} outputs, the graph has"
                             f" {len(self.output_names)}")
        return outs

    def capture(self, inputs: list, tensors: list[str], reference: dict | None = None) -> dict:
        """Intermediate tensors are not observed in the source (per-layer localization
        compares the candidate with the graph's own ONNX form instead)."""
        return {}
