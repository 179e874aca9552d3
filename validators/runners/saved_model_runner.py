"""Runner for a SavedModel export (``<folder>/saved_model``) of an emitted TensorFlow folder.

It calls the ``serving_default`` signature with the inputs named as the folder's manifest
records (``exports.saved_model``); a SavedModel without that manifest is called with its
signature's own input order and output keys.  Per layer, only the outputs are observable.

The SavedModel is checked with the TensorFlow frontend's rule before it is loaded and its
signature before it is called (``ir/tf_safety.py``: no op with effects outside
the model); there is no trust option: an artifact mmconvert emitted never holds such ops,
and a candidate SavedModel from elsewhere is a source like any other.
"""

from __future__ import annotations

import json
import os

from mmconvert.ir.errors import InputError, ModelLoadError

from .tf_runner import external, to_numpy, to_tf


def export_entry(artifact: str, kind: str) -> tuple[dict, dict]:
    """(the folder manifest, its export entry of ``kind``) for an export inside an emitted folder."""
    path = os.path.join(os.path.dirname(os.path.abspath(artifact)), "manifest.json")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return {}, {}
    return manifest, manifest.get("exports", {}).get(kind, {})


class Runner:
    target = "saved_model"

    def __init__(self, path: str):
        import tensorflow as tf

        from mmconvert.ir.tf_safety import check_function, check_saved_model_file

        self.path = os.path.abspath(path)
        check_saved_model_file(self.path)
        try:
            self.loaded = tf.saved_model.load(self.path)
            self.fn = self.loaded.signatures["serving_default"]
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"{self.path}: cannot load the SavedModel: {type(e).__name__}: {e}") from None
        check_function(self.fn, f"{self.path} [serving_default]")
        manifest, entry = export_entry(self.path, "saved_model")
        spec_names = [s.name for s in self.fn.structured_input_signature[1].values()] \
            if self.fn.structured_input_signature[1] else []
        self.keys_in = list(entry.get("inputs", {}).values()) or spec_names
        self.input_names = list(entry.get("inputs", {})) or spec_names
        out_keys = entry.get("outputs") or {k: k for k in sorted(self.fn.structured_outputs)}
        self.output_names, self.keys_out = list(out_keys), list(out_keys.values())
        self.layouts = manifest.get("layouts", {})

    def run(self, inputs: list) -> list:
        feeds = external(list(inputs), self.input_names, self.layouts, inverse=True)
        try:
            out = self.fn(**{k: to_tf(v) for k, v in zip(self.keys_in, feeds)})
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{self.path}: the SavedModel failed on these inputs: {type(e).__name__}: "
                             f"{str(e).strip().splitlines()[-1] if str(e).strip() else ''}") from None
        values = [to_numpy(out[k]) for k in self.keys_out]
        return external(values, self.output_names, self.layouts, inverse=False)

    def capture(self, inputs: list, tensors: list[str], reference: dict | None = None) -> dict:
        wanted = set(tensors)
        values = self.run(inputs)
        return {n: v for n, v in zip(self.output_names, values) if n in wanted}
