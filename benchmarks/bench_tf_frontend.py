"""Benchmark of the TensorFlow / Keras frontend; writes docs/benchmarks-tensorflow-frontend.md.

For each model (the keras.applications set and the small models of
``tests/tensorflow/keras_models.py``, random weights, logits out), in its own process:

1. conversion time, Keras -> ONNX end to end: ``mmconvert.convert(model, "m.onnx",
   validate=False)`` beside tf2onnx alone on the same model, both its routes: the one
   Keras 3's ``model.export(format="onnx")`` takes (a ``tf.function`` with the input
   signature -> ``tf2onnx.convert.from_function``) and ``tf2onnx.convert.from_keras``.
   One run each, after a warm-up conversion of a small model by each (imports, first
   traces), mmconvert and tf2onnx in separate processes (tf2onnx's limited to 12 GB of
   address space: on VGG16 it needs more than 20 GB); the ratio is ours / from_function;
2. parity against the Keras model itself, ONNX and PyTorch targets (``convert`` with its
   default check, atol 1e-4), and the largest difference of the artifacts' outputs from
   ``model(x)`` on our own inputs;
3. names: the share of Keras weights stored under their layer's name in each artifact
   (``keras_models.names_surviving``), and the Transposes left in the graph;
4. (``--forms``) the model saved as SavedModel (``model.export``), ``.keras`` and ``.h5``,
   each converted to ONNX: the largest difference from the Keras model's outputs.

    python benchmarks/bench_tf_frontend.py [--quick] [--forms] [--models ResNet50,lstm_gru]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks-tensorflow-frontend.md")
TESTS = os.path.join(ROOT, "tests", "tensorflow")
QUICK = ["ResNet50", "MobileNetV2", "lstm_gru", "transformer_encoder", "text_cnn"]
TF2ONNX_LIMIT_GB = 12  # address space of the tf2onnx-alone process: it fails instead of exhausting the machine


def _build(name: str):
    import keras_models

    if name in keras_models.APPLICATIONS:
        return keras_models.application(name)
    return keras_models.SMALL[name]()


def tf2onnx_worker(name: str, tmp: str) -> dict:
    """tf2onnx alone: both its routes, one run each after a warm-up on a small model."""
    sys.path[:0] = [ROOT, TESTS]
    import keras_models

    import tensorflow as tf
    import tf2onnx
    from mmconvert.frontends.tensorflow.shield import shielded

    def routes(model, out):
        specs = [tf.TensorSpec(t.shape, t.dtype, name=f"input_{i}") for i, t in enumerate(model.inputs)]

        @tf.function(input_signature=specs)
        def serve(*xs):
            return model(list(xs) if len(xs) > 1 else xs[0], training=False)

        times = {}
        with shielded():  # tf2onnx needs np.product on NumPy 2 either way
            for route in ("from_function", "from_keras"):
                start = time.perf_counter()
                try:
                    if route == "from_function":
                        tf2onnx.convert.from_function(serve, specs, opset=18, output_path=out + "_f.onnx")
                    else:
                        tf2onnx.convert.from_keras(model, opset=18, output_path=out + "_k.onnx")
                    times[route] = time.perf_counter() - start
                except Exception as e:  # noqa: BLE001 - reported in the table
                    times[route] = f"failed: {type(e).__name__}"
        return times

    routes(keras_models.small_cnn(), os.path.join(tmp, "warm"))
    return routes(_build(name), os.path.join(tmp, name))


def worker(name: str, forms: bool, tmp: str) -> dict:
    """mmconvert: conversion time, parity and names on both targets, and the saved forms."""
    sys.path[:0] = [ROOT, TESTS]
    import keras_models
    import numpy as np

    import keras
    import mmconvert

    mmconvert.convert(keras_models.small_cnn(), os.path.join(tmp, "warm.onnx"), to="onnx", validate=False,
                      force=True)
    model = _build(name)
    row: dict = {"model": name, "params": int(sum(np.prod(w.shape) for w in model.weights))}
    onnx_path = os.path.join(tmp, f"{name}.onnx")
    start = time.perf_counter()
    result = mmconvert.convert(model, onnx_path, to="onnx", validate=False, force=True)
    row["ours_s"] = time.perf_counter() - start
    row["nodes"] = len(result.graph)
    row["transposes"] = sum(1 for n in result.graph.nodes if n.op_type == "Transpose")
    del result

    x = keras_models.sample_inputs(model, batch=2, seed=7)
    want = np.asarray(keras.tree.flatten(model(x if len(x) > 1 else x[0], training=False))[0])

    def onnx_out(path):
        import onnxruntime as ort

        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return sess.run(None, dict(zip([i.name for i in sess.get_inputs()], x)))[0]

    for to in ("onnx", "pytorch"):
        out = os.path.join(tmp, f"{name}_{to}" + (".onnx" if to == "onnx" else ""))
        start = time.perf_counter()
        try:
            checked = mmconvert.convert(model, out, to=to, atol=1e-4, force=True)
        except Exception as e:  # noqa: BLE001 - reported in the table
            row[f"{to}_parity"] = f"error: {type(e).__name__}: {str(e)[:120]}"
            continue
        row[f"{to}_with_check_s"] = time.perf_counter() - start
        row[f"{to}_parity"] = checked.parity.status
        if to == "onnx":
            got = onnx_out(out)
        else:
            from mmconvert.validators.runners.torch_runner import Runner

            got = Runner(out).run(x)[0]
        row[f"{to}_max_abs"] = float(np.abs(np.asarray(got) - want).max())
        row[f"{to}_names"] = keras_models.names_surviving(model, keras_models.artifact_weight_names(out))[0]
        if to == "pytorch":
            code = open(os.path.join(out, "model.py"), encoding="utf-8").read()
            row["permutes"] = code.count(".permute(")
    if forms:
        diffs = {}
        src = os.path.join(tmp, f"{name}_src")
        os.makedirs(src, exist_ok=True)
        model.export(os.path.join(src, "saved"), verbose=False)
        model.save(os.path.join(src, "m.keras"))
        model.save(os.path.join(src, "m.h5"))
        for kind in ("saved", "m.keras", "m.h5"):
            out = os.path.join(src, f"{kind}.onnx")
            try:
                checked = mmconvert.convert(os.path.join(src, kind), out, to="onnx", atol=1e-4, force=True)
                diffs[kind] = (checked.parity.status, float(np.abs(onnx_out(out) - want).max()))
            except Exception as e:  # noqa: BLE001
                diffs[kind] = (f"error: {type(e).__name__}: {str(e).split(': ', 2)[-1].strip()[:90]}", None)
        row["forms"] = diffs
    return row


def _subprocess(call: str, limit_gb: int | None = None):
    """Run ``bench_tf_frontend.<call>`` in a fresh interpreter: (its result, or None and why not)."""
    import resource

    def limit():
        if limit_gb:
            resource.setrlimit(resource.RLIMIT_AS, (limit_gb << 30, limit_gb << 30))

    code = (f"import sys, json; sys.path.insert(0, {os.path.join(ROOT, 'benchmarks')!r});"
            f" import bench_tf_frontend as b; print('RESULT' + json.dumps(b.{call}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=limit,
                          env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2"))
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[len("RESULT"):]), None
    lines = proc.stderr.strip().splitlines()
    if limit_gb and (proc.returncode < 0 or any("MemoryError" in ln or "bad_alloc" in ln for ln in lines)):
        return None, f"out of memory (limit {limit_gb} GB)"
    if proc.returncode < 0:
        return None, f"killed (signal {-proc.returncode})"
    errors = [ln for ln in lines if "Error" in ln]
    return None, (errors or lines or ["?"])[-1][:200]


def run_one(name: str, forms: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="mmconvert-bench-tf-") as tmp:
        row, error = _subprocess(f"worker({name!r}, {forms!r}, {tmp!r})")
        if row is None:
            return {"model": name, "error": error}
        # tf2onnx alone may need far more memory (VGG16: over 20 GB): bounded, so it fails instead
        times, error = _subprocess(f"tf2onnx_worker({name!r}, {tmp!r})", limit_gb=TF2ONNX_LIMIT_GB)
        row.update(times or {"from_function": f"failed: {error}", "from_keras": f"failed: {error}"})
    return row


def _s(v, fmt="{:.2f}"):
    return fmt.format(v) if isinstance(v, (int, float)) else (str(v) if v is not None else "-")


def write(rows: list[dict], forms: bool) -> None:
    import keras
    import tensorflow as tf
    import tf2onnx

    lines = [
        "# TensorFlow / Keras frontend benchmark",
        "",
        f"Written by `benchmarks/bench_tf_frontend.py` (TensorFlow {tf.__version__}, Keras {keras.__version__},"
        f" tf2onnx {tf2onnx.__version__}, {platform.machine()}, {os.cpu_count()} cores, shared machine; one run"
        " per converter per model, each model in its own process after a warm-up conversion by each).",
        "",
        "Models have random weights (`weights=None`, seeded; biases, BatchNorm gammas and betas seeded random,"
        " BatchNorm statistics measured on a random batch, as `tests/tensorflow/keras_models.randomize` does)"
        " and logits out. *ours* is `mmconvert.convert(model, 'm.onnx', validate=False)`: Keras -> ONNX end to"
        " end (trace, freeze, tf2onnx, names, passes, ONNX file). *from_function* is tf2onnx alone on the"
        " route Keras 3's `model.export(format='onnx')` takes; *from_keras* is `tf2onnx.convert.from_keras`."
        " *ratio* = ours / from_function (the goal: at most 1.5). tf2onnx runs in its own process with 12 GB of"
        " address space: a *MemoryError* means it needed more (unbounded, on VGG16 it grew past 20 GB until the"
        " kernel's OOM killer stopped it; mmconvert peaks at 3.7 GB there).",
        "",
        "*parity* is mmconvert's check against the Keras model itself (atol 1e-4); *max abs* the largest"
        " difference of the artifact's outputs from `model(x)` on other inputs; *names* the share of the"
        " Keras weights stored under their layer's name in the ONNX / PyTorch artifact; *T* the Transposes"
        " left in the graph, *permutes* those in the emitted PyTorch code.",
        "",
        "| model | params | ours (s) | from_function (s) | ratio | from_keras (s) | T | ONNX parity (max abs) |"
        " PyTorch parity (max abs) | permutes | names ONNX / PyTorch |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---:|---|",
    ]
    ratios = []
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | error: {r['error']} |" + " |" * 10)
            continue
        ratio = r["ours_s"] / r["from_function"] if isinstance(r.get("from_function"), float) else None
        if ratio is not None:
            ratios.append(ratio)
        lines.append(
            f"| {r['model']} | {r['params']:,} | {_s(r['ours_s'])} | {_s(r.get('from_function'))} | {_s(ratio)} |"
            f" {_s(r.get('from_keras'))} | {r['transposes']} |"
            f" {r.get('onnx_parity', '-')} ({_s(r.get('onnx_max_abs'), '{:.1e}')}) |"
            f" {r.get('pytorch_parity', '-')} ({_s(r.get('pytorch_max_abs'), '{:.1e}')}) |"
            f" {_s(r.get('permutes'), '{}')} |"
            f" {_s(r.get('onnx_names'), '{:.0%}')} / {_s(r.get('pytorch_names'), '{:.0%}')} |")
    if ratios:
        ratios.sort()
        lines += ["", f"Conversion time ours / tf2onnx (from_function): median **{ratios[len(ratios) // 2]:.2f}x**,"
                  f" worst {ratios[-1]:.2f}x over {len(ratios)} models."]
    if forms:
        lines += ["", "## The same models saved as SavedModel, .keras and .h5", "",
                  "Each file converted to ONNX (parity checked against the file's own model), then compared with"
                  " the in-memory Keras model's outputs.", "",
                  "| model | SavedModel | .keras | .h5 |", "|---|---|---|---|"]
        for r in rows:
            f = r.get("forms") or {}
            cells = [f"{f[k][0]} ({_s(f[k][1], '{:.1e}')})" if k in f else "-" for k in ("saved", "m.keras", "m.h5")]
            lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    with open(DOC, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def main() -> None:
    sys.path[:0] = [ROOT, TESTS]
    import keras_models

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    ap.add_argument("--forms", action="store_true", help="also convert each model saved as SavedModel, .keras, .h5")
    ap.add_argument("--models", default=None, help="comma-separated model names")
    args = ap.parse_args()
    names = args.models.split(",") if args.models else QUICK if args.quick else \
        list(keras_models.APPLICATIONS) + list(keras_models.SMALL)
    rows = []
    for name in names:
        row = run_one(name, args.forms)
        rows.append(row)
        print(json.dumps(row), flush=True)
    write(rows, args.forms)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
