"""Runner for a TFLite export (``model.tflite``) in the LiteRT interpreter (``ai-edge-litert``).

It calls the ``serving_default`` signature runner with the inputs named as the folder's
manifest records (``exports.tflite``).  A model that needs select TensorFlow ops (Flex)
cannot run in the plain interpreter: loading says which ops.  Per layer, only the outputs
are observable.
"""

from __future__ import annotations

import os

import numpy as np

from mmconvert.ir.errors import InputError, ModelLoadError, UnsupportedError

from .saved_model_runner import export_entry
from .tf_runner import external, to_numpy

MAGIC = b"TFL3"


def is_tflite(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == MAGIC
    except OSError:
        return False


class Runner:
    target = "tflite"

    def __init__(self, path: str):
        from ai_edge_litert.interpreter import Interpreter

        self.path = os.path.abspath(path)
        manifest, entry = export_entry(self.path, "tflite")
        if entry.get("flex_ops"):
            raise UnsupportedError(f"{self.path} needs select TensorFlow ops (Flex: {', '.join(entry['flex_ops'])}), "
                                   "which the LiteRT interpreter does not run")
        try:
            self.interpreter = Interpreter(model_path=self.path)
            self.fn = self.interpreter.get_signature_runner("serving_default")
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"{self.path}: LiteRT cannot load it: {type(e).__name__}: {e}") from None
        details = self.fn.get_input_details()
        self.keys_in = list(entry.get("inputs", {}).values()) or list(details)
        self.input_names = list(entry.get("inputs", {})) or list(details)
        out_keys = entry.get("outputs") or {k: k for k in sorted(self.fn.get_output_details())}
        self.output_names, self.keys_out = list(out_keys), list(out_keys.values())
        self.dtypes = {k: v["dtype"] for k, v in details.items()}
        self.layouts = manifest.get("layouts", {})

    def run(self, inputs: list) -> list:
        feeds = external(list(inputs), self.input_names, self.layouts, inverse=True)
        try:
            out = self.fn(**{k: np.asarray(v, dtype=self.dtypes.get(k)) for k, v in zip(self.keys_in, feeds)})
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{self.path}: LiteRT failed on these inputs: {type(e).__name__}: {e}") from None
        return external([to_numpy(out[k]) for k in self.keys_out], self.output_names, self.layouts, inverse=False)

    def capture(self, inputs: list, tensors: list[str], reference: dict | None = None) -> dict:
        wanted = set(tensors)
        return {n: v for n, v in zip(self.output_names, self.run(inputs)) if n in wanted}
