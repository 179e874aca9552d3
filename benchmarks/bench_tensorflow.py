"""Benchmark of the TensorFlow backend; writes docs/benchmarks-tensorflow.md.

For keras.applications models (random weights, logits out) exported to ONNX with tf2onnx:

- conversion time: mmconvert's ONNX -> TensorFlow code + SavedModel + TFLite, beside
  onnx2tf's ONNX -> SavedModel (+ its TFLite files) for the same ONNX file; each is a fresh
  process timed from start to exit (interpreter and TensorFlow start included for both);
- latency, in one process with the same threads: the original Keras model (called through
  ``tf.function``, as a performance-minded user would), the ``model.py`` mmconvert emits,
  and the SavedModel onnx2tf writes, timed in interleaved rounds after warm-up; the table
  gives the median and the best call;
- parity of both conversions against ONNX Runtime on the same input.

onnx2tf lives in its own virtualenv (its pins clash with ours): ``/work/venvs/onnx2tf``
(``python3 -m venv /work/venvs/onnx2tf && /work/venvs/onnx2tf/bin/pip install onnx2tf==1.29.24``),
or ``--onnx2tf PATH`` to its executable.  Offline it needs
``calibration_image_sample_data_20x128x128x3_float32.npy`` in its working directory; any
float32 array of that shape does, so the benchmark writes one.

    python benchmarks/bench_tensorflow.py [--models ResNet50,MobileNetV2] [--size 224] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "benchmarks-tensorflow.md")
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from _peers import ONNX2TF, onnx2tf_convert  # noqa: E402  (benchmarks/ is this script's own folder)

_CONVERT = r"""
import sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
import mmconvert
mmconvert.convert(sys.argv[2], sys.argv[3], to="tensorflow", validate=False, saved_model=True, tflite=True)
"""

_LATENCY = r"""
import json, os, sys, time, warnings, importlib.util
warnings.simplefilter("ignore")
args = json.loads(sys.argv[1])
sys.path[:0] = [args["root"], os.path.join(args["root"], "tests"), os.path.join(args["root"], "benchmarks")]
import numpy as np
from _peers import onnx2tf_feed
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(args["threads"])
tf.config.threading.set_inter_op_parallelism_threads(1)
x = np.load(args["input"])
runs, outputs, errors = {}, {}, {}
if args["keras"]:
    from real_models import keras_model
    keras = keras_model(args["name"], args["size"])
    keras_fn = tf.function(lambda v: keras(v, training=False))
    runs["keras"] = lambda: keras_fn(x)
    outputs["keras"] = np.asarray(keras_fn(x))
spec = importlib.util.spec_from_file_location("emitted", os.path.join(args["emitted"], "model.py"))
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
emitted = module.load_model()
runs["emitted"] = lambda: emitted(x)
outputs["emitted"] = np.asarray(emitted(x))
if args.get("onnx2tf"):
    try:
        loaded = tf.saved_model.load(args["onnx2tf"])
        sig = loaded.signatures["serving_default"]
        (key, spec_), = sig.structured_input_signature[1].items()
        feed = onnx2tf_feed(x, spec_.shape)  # onnx2tf moves what it takes for channels to the end
        out = sig(**{key: tf.constant(feed)})
        outputs["onnx2tf"] = np.asarray(list(out.values())[0])
        runs["onnx2tf"] = lambda: sig(**{key: tf.constant(feed)})
    except Exception as e:
        errors["onnx2tf"] = f"its SavedModel fails on the input: {type(e).__name__}: {str(e).strip().splitlines()[-1][:200]}"
times = {k: [] for k in runs}
for k, f in runs.items():
    for _ in range(3):
        f()
for _ in range(args["rounds"]):
    for k, f in runs.items():
        for _ in range(args["per_round"]):
            t = time.perf_counter(); r = f()
            _ = r.numpy() if hasattr(r, "numpy") else [v.numpy() for v in r.values()]
            times[k].append(time.perf_counter() - t)
np.savez(args["outputs"], **outputs)
print(json.dumps({"times": times, "errors": errors}))
"""


def _run(cmd, cwd=None, timeout=3600) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, proc


def bench_model(name: str, size: int, threads: int, rounds: int, per_round: int, onnx2tf: str | None, work: str) -> dict:
    import numpy as np
    import onnx

    import conformance
    from real_models import keras_model, keras_to_onnx

    row: dict = {"model": name}
    if name.startswith("torch:"):  # an NCHW ONNX file (torch.onnx), the layout onnx2tf expects
        import torch
        import transformers as T

        from real_models import export_onnx

        torch.manual_seed(0)
        config = {"torch:ResNet50": T.ResNetConfig(), "torch:ConvNeXtTiny": T.ConvNextConfig()}[name]
        module = {"torch:ResNet50": T.ResNetModel, "torch:ConvNeXtTiny": T.ConvNextModel}[name](config).eval()

        class Pooled(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, v):
                return self.m(v).pooler_output

        x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
        onnx_path = os.path.join(work, f"{name[6:]}_torch.onnx")
        export_onnx(Pooled(module).eval(), torch.from_numpy(x), onnx_path)
        row["source"] = "transformers + torch.onnx (NCHW)"
    else:
        model = keras_model(name, size)
        onnx_path = keras_to_onnx(model, os.path.join(work, f"{name}.onnx"))
        x = np.random.default_rng(0).standard_normal((1, *model.input_shape[1:])).astype(np.float32)
        row["source"] = "keras.applications + tf2onnx (NHWC)"
    np.save(os.path.join(work, "input.npy"), x)
    reference = conformance.run_model(onnx_path, onnx.load(onnx_path), [x])[0]

    ours = os.path.join(work, f"{name.replace(':', '_')}_tf")
    secs, proc = _run([sys.executable, "-c", _CONVERT, ROOT, onnx_path, ours])
    row["ours_convert_s"] = secs if proc.returncode == 0 else None
    if proc.returncode:
        row["ours_error"] = proc.stderr.strip().splitlines()[-1:]

    o2t_dir = None
    if onnx2tf and os.path.exists(onnx2tf):
        cwd = os.path.join(work, f"{name.replace(':', '_')}_onnx2tf_cwd")
        o2t_dir = os.path.join(work, f"{name.replace(':', '_')}_onnx2tf")
        start = time.perf_counter()
        proc = onnx2tf_convert(onnx_path, o2t_dir, cwd, exe=onnx2tf)
        secs = time.perf_counter() - start
        row["onnx2tf_convert_s"] = secs if proc.returncode == 0 else None
        if proc.returncode or not os.path.exists(os.path.join(o2t_dir, "saved_model.pb")):
            row["onnx2tf_error"] = "conversion failed: " + " ".join(
                ln.strip() for ln in (proc.stdout + proc.stderr).strip().splitlines()[-3:])
            o2t_dir = None

    args = {"root": ROOT, "name": name, "size": size, "keras": not name.startswith("torch:"), "threads": threads, "rounds": rounds, "per_round": per_round,
            "input": os.path.join(work, "input.npy"), "emitted": ours, "onnx2tf": o2t_dir,
            "outputs": os.path.join(work, f"{name.replace(':', '_')}_outputs.npz")}
    _, proc = _run([sys.executable, "-c", _LATENCY, json.dumps(args)])
    if proc.returncode:
        row["latency_error"] = proc.stderr.strip().splitlines()[-3:]
        return row
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    times = result["times"]
    for k, v in result["errors"].items():
        row[f"{k}_error"] = v
    for k, v in times.items():
        row[f"{k}_median_ms"] = 1000 * statistics.median(v)
        row[f"{k}_best_ms"] = 1000 * min(v)
    outs = np.load(args["outputs"])
    for k in ("emitted", "keras", "onnx2tf"):
        if k in outs:
            got = outs[k].reshape(reference.shape) if outs[k].size == reference.size else outs[k]
            row[f"{k}_max_abs"] = float(np.abs(got - reference).max()) if got.shape == reference.shape else None
    row["scale"] = float(np.abs(reference).max())
    return row


def _fmt(v, spec="{:.2f}") -> str:
    return "n/a" if v is None else spec.format(v)


def _ratio(a, b) -> str:
    return "n/a" if not a or not b else f"**{a / b:.2f}x**"


def write_doc(rows: list[dict], args) -> None:
    lines = ["# TensorFlow backend benchmarks", "",
             f"Generated by `benchmarks/bench_tensorflow.py` on {time.strftime('%Y-%m-%d')} ({platform.machine()}, "
             f"{os.cpu_count()} cores, {args.threads} TensorFlow threads, inputs 1x{args.size}x{args.size}x3; "
             f"{args.rounds} interleaved rounds of {args.per_round} calls after warm-up). Sources: keras.applications "
             "(random weights, logits out) exported to ONNX with tf2onnx (NHWC input), and ResNet-50 from "
             "`transformers` (random weights, pooled output) exported with torch.onnx (NCHW input, the layout "
             "onnx2tf expects). Both converters start from the same ONNX file. Goals: emitted <= 1.1x Keras "
             "(median), no slower than onnx2tf, conversion under 30 s.", "",
             "## Latency (ms per call; median, best in brackets)", "",
             "| model | source | Keras | emitted (mmconvert) | emitted / Keras | onnx2tf SavedModel | emitted / onnx2tf |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        k, e, o = r.get("keras_median_ms"), r.get("emitted_median_ms"), r.get("onnx2tf_median_ms")
        lines.append(f"| {r['model']} | {r.get('source', '')} | {_fmt(k)} ({_fmt(r.get('keras_best_ms'))}) | {_fmt(e)} ({_fmt(r.get('emitted_best_ms'))}) "
                     f"| {_ratio(e, k)} | {_fmt(o)} ({_fmt(r.get('onnx2tf_best_ms'))}) | {_ratio(e, o)} |")
    lines += ["", "## Conversion time (s, one fresh process each)", "",
              "| model | mmconvert: code + SavedModel + TFLite | onnx2tf: SavedModel + TFLite |", "|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {_fmt(r.get('ours_convert_s'), '{:.1f}')} | {_fmt(r.get('onnx2tf_convert_s'), '{:.1f}')} |")
    lines += ["", "## Parity against ONNX Runtime (max abs error; output scale beside it)", "",
              "| model | output max abs | mmconvert | Keras itself | onnx2tf |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {_fmt(r.get('scale'), '{:.3g}')} | {_fmt(r.get('emitted_max_abs'), '{:.2e}')} | "
                     f"{_fmt(r.get('keras_max_abs'), '{:.2e}')} | {_fmt(r.get('onnx2tf_max_abs'), '{:.2e}')} |")
    errors = [(r["model"], k, v) for r in rows for k, v in r.items() if k.endswith("_error")]
    if errors:
        lines += ["", "## Errors", ""] + [f"- {m} ({k}): {' / '.join(v) if isinstance(v, list) else v}" for m, k, v in errors]
    lines += ["", "Notes: the emitted model's `__call__` is a `tf.function` over channels-last data (the tf2onnx",
              "file's NHWC input feeds the first convolution directly: the layout pass cancels tf2onnx's transposes).",
              "onnx2tf takes a 4-D input to be NCHW whatever the file says: on tf2onnx's NHWC files it either fails",
              "(MobileNetV2, EfficientNetB0: a broadcast it rewrote for the wrong axis) or builds a model whose input",
              "is [N, 224, 3, 224] (ResNet50: fed here in that layout, its outputs then match). mmconvert never",
              "guesses a layout from a shape.",
              "Keras is called through `tf.function(lambda x: model(x, training=False))`; onnx2tf's SavedModel through",
              "its `serving_default` signature. All three run in one process, so threads and load are alike."]
    with open(DOC, "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="ResNet50,MobileNetV2,EfficientNetB0,torch:ResNet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-round", type=int, default=5)
    ap.add_argument("--onnx2tf", default=ONNX2TF)
    ap.add_argument("--keep", default=None, help="keep the work files in this folder")
    ap.add_argument("--from-log", default=None, help="rewrite the table from the JSON rows a previous run printed")
    args = ap.parse_args()
    if args.from_log:
        with open(args.from_log) as f:
            write_doc([json.loads(ln) for ln in f if ln.startswith("{")], args)
        return
    work = args.keep or tempfile.mkdtemp(prefix="bench-tf-")
    os.makedirs(work, exist_ok=True)
    rows = []
    try:
        for name in args.models.split(","):
            row = bench_model(name, args.size, args.threads, args.rounds, args.per_round, args.onnx2tf, work)
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    write_doc(rows, args)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
