"""SavedModel and TFLite exports of an emitted TensorFlow folder.

The folder's own ``model.py`` is loaded and saved: ``saved_model/`` holds a serving
signature (``serving_default``) whose inputs are named after the graph's inputs and whose
outputs are a dict named after the graph's outputs (both as the Python identifiers
``model.py`` uses).  ``model.tflite`` is converted from that SavedModel with
``tf.lite.TFLiteConverter.from_saved_model``: TFLite builtin ops only when they suffice;
otherwise select TensorFlow ops (Flex) are enabled and the ops that needed them are named
in the manifest.  ``quantize`` may be ``float16`` or ``dynamic-int8``.

The manifest's ``exports`` section records what each export holds and how its names map
to the IR's, so the runners (``validators/runners/saved_model_runner.py``,
``tflite_runner.py``) compare them output by output.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

from mmconvert.backends.codegen.namespace import identifier
from mmconvert.ir.errors import UnsupportedError

QUANTIZE = ("float16", "dynamic-int8")
# the parity a quantized export is held to (atol, rtol): it computes in fewer bits on purpose
TOLERANCE = {"float16": (1e-2, 1e-2), "dynamic-int8": (1e-1, 1e-1)}
SIGNATURE = "serving_default"


def _load(folder: str):
    import importlib.util
    import uuid

    spec = importlib.util.spec_from_file_location(f"_mmconvert_export_{uuid.uuid4().hex[:8]}",
                                                  os.path.join(folder, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_model()


def output_keys(outputs: list[str]) -> dict[str, str]:
    """IR output name -> the signature's output key (an identifier, unique)."""
    keys: dict[str, str] = {}
    for name in outputs:
        key, k = identifier(name, "output"), 1
        while key in keys.values():
            key, k = f"{identifier(name, 'output')}_{k}", k + 1
        keys[name] = key
    return keys


def save_saved_model(folder: str, path: str, manifest: dict) -> dict:
    """Write the SavedModel of the folder's model at ``path``; returns its manifest entry."""
    import tensorflow as tf

    model = _load(folder)
    call = type(model).__call__
    if call.input_signature is None:
        raise UnsupportedError("a model whose inputs are sequences or optionals has no fixed signature to save")
    inputs = manifest["inputs"]  # IR name -> identifier
    specs = [tf.TensorSpec(s.shape, s.dtype, name=ident) for s, ident in zip(call.input_signature, inputs.values())]
    keys = output_keys(manifest["outputs"])

    @tf.function(input_signature=specs)
    def serve(*args):
        out = model(*args)
        out = out if isinstance(out, tuple) else (out,)
        return dict(zip(keys.values(), out))

    tf.saved_model.save(model, path, signatures={SIGNATURE: serve.get_concrete_function()})
    return {"path": os.path.basename(path), "signature": SIGNATURE, "inputs": dict(inputs), "outputs": keys}


def _flex_ops(message: str) -> list[str]:
    """The TensorFlow ops a converter error says TFLite builtins lack."""
    found = re.findall(r"\btf\.([A-Z][A-Za-z0-9_]*)", message)
    return sorted(set(found))


def save_tflite(saved_model: str, path: str, entry: dict, quantize: str | None) -> dict:
    """Convert ``saved_model`` to ``path``; returns the manifest entry (flex ops named)."""
    import tensorflow as tf

    if quantize not in (None, *QUANTIZE):
        raise UnsupportedError(f"--tflite-quantize must be one of {', '.join(QUANTIZE)}, not '{quantize}'")

    def converter(flex: bool):
        conv = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=[SIGNATURE])
        if quantize:
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            if quantize == "float16":
                conv.target_spec.supported_types = [tf.float16]
        if flex:
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        return conv

    flex: list[str] = []
    try:
        data = converter(False).convert()
    except Exception as e:  # noqa: BLE001 - the converter reports missing builtins as a ConverterError
        flex = _flex_ops(str(e)) or ["(unnamed by the converter)"]
        data = converter(True).convert()
    with open(path, "wb") as f:
        f.write(data)
    out = dict(entry, path=os.path.basename(path))
    out["quantize"] = quantize or "none"
    out["flex_ops"] = flex
    if quantize:
        out["tolerance"] = list(TOLERANCE[quantize])
    return out


def export(folder: str, *, saved_model: bool = False, tflite: bool = False, quantize: str | None = None) -> dict:
    """Add the requested exports to the emitted ``folder`` and record them in its manifest;
    returns {kind: manifest entry}."""
    manifest_path = os.path.join(folder, "manifest.json")
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    exports: dict[str, dict] = {}
    sm_path = os.path.join(folder, "saved_model")
    with tempfile.TemporaryDirectory(prefix="mmconvert-sm-") as tmp:
        target = sm_path if saved_model else os.path.join(tmp, "saved_model")
        entry = save_saved_model(folder, target, manifest)
        if saved_model:
            exports["saved_model"] = entry
        if tflite:
            exports["tflite"] = save_tflite(target, os.path.join(folder, "model.tflite"), entry, quantize)
    manifest["exports"] = exports
    manifest["files"] = sorted(set(manifest.get("files", [])) | {e["path"] for e in exports.values()})
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return exports
