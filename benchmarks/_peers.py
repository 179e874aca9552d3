"""What the benchmarks need to run the peer converters, each in its own virtualenv.

The project never imports a peer: these helpers only name the interpreters, prepare
files the peers need, and hold the few lines of code the peers' subprocesses run.

- onnx2torch (ONNX -> PyTorch): ``/work/venvs/onnx2torch``
  (``python3 -m venv /work/venvs/onnx2torch && /work/venvs/onnx2torch/bin/pip install torch==2.13.0 onnx2torch==1.5.15``;
  torchvision, which it imports for its NMS / RoIAlign converters only, is replaced by a stub:
  no torchvision build matches the CPU torch here);
- onnx2tf (ONNX -> TensorFlow): ``/work/venvs/onnx2tf``
  (``python3 -m venv /work/venvs/onnx2tf && /work/venvs/onnx2tf/bin/pip install onnx2tf==1.29.24``).
"""

from __future__ import annotations

import os
import subprocess

import numpy as np

ONNX2TORCH_VENV = "/work/venvs/onnx2torch"
ONNX2TF_VENV = "/work/venvs/onnx2tf"
ONNX2TF = os.path.join(ONNX2TF_VENV, "bin", "onnx2tf")

def stub_torchvision() -> None:
    """Run by the onnx2torch interpreter before ``import onnx2torch``: a stand-in for the
    torchvision it imports for its NMS / RoIAlign converters only (none of the benchmark
    models needs them, and no torchvision build matches the CPU torch here)."""
    import sys
    import types

    tv = types.ModuleType("torchvision")
    tv.ops = types.ModuleType("torchvision.ops")

    def _missing(*a, **k):
        raise RuntimeError("torchvision is not installed in the benchmark environment")

    tv.ops.nms = tv.ops.box_convert = tv.ops.roi_align = _missing
    sys.modules["torchvision"] = tv
    sys.modules["torchvision.ops"] = tv.ops


def materialize(path: str, work: str) -> str:
    """A copy of a light model whose ConstantOfShape weights are real initializers.

    The light zoo files keep their weights as ``ConstantOfShape`` nodes to stay small;
    onnx2torch needs Conv/Gemm weights as initializers, so it is also run on this copy
    (written once under ``work``).
    """
    import onnx
    from onnx import numpy_helper

    out = os.path.join(work, os.path.basename(path).replace(".onnx", ".materialized.onnx"))
    if os.path.exists(out):
        return out
    model = onnx.load(path)
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    keep = []
    for n in g.node:
        if n.op_type == "ConstantOfShape" and n.input[0] in consts:
            value = numpy_helper.to_array(n.attribute[0].t) if n.attribute else np.zeros(1, np.float32)
            arr = np.full([int(d) for d in consts[n.input[0]]], value.reshape(-1)[0], dtype=value.dtype)
            g.initializer.append(numpy_helper.from_array(arr, n.output[0]))
        else:
            keep.append(n)
    del g.node[:]
    g.node.extend(keep)
    model.ir_version = max(model.ir_version, 4)  # initializers need not be graph inputs from IR 4 on
    os.makedirs(work, exist_ok=True)
    onnx.save(model, out, save_as_external_data=True, location=os.path.basename(out) + ".data")
    onnx.shape_inference.infer_shapes_path(out, out)  # onnx2torch reads ranks from value_info
    return out


def onnx2tf_convert(onnx_path: str, out_dir: str, cwd: str, exe: str = ONNX2TF,
                    timeout: float = 3600) -> subprocess.CompletedProcess:
    """onnx2tf on ``onnx_path`` with its defaults plus signature defs (``-osd``), writing a
    SavedModel to ``out_dir``.  Offline it needs
    ``calibration_image_sample_data_20x128x128x3_float32.npy`` in its working directory; any
    float32 array of that shape does, so one is written to ``cwd``."""
    os.makedirs(cwd, exist_ok=True)
    np.save(os.path.join(cwd, "calibration_image_sample_data_20x128x128x3_float32.npy"),
            np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))
    # onnx2tf runs the onnxsim executable of its own venv: its bin/ goes first on PATH
    env = dict(os.environ, PATH=os.path.dirname(exe) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([exe, "-i", onnx_path, "-o", out_dir, "-osd"], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def onnx2tf_feed(x: np.ndarray, shape) -> np.ndarray:
    """``x`` (in the ONNX file's layout) in the layout onnx2tf's SavedModel input takes: it moves
    what it takes for channels to the end, so the permutation whose shape matches is used."""
    n = x.ndim
    perms = [tuple(range(n))] + ([(0, *range(2, n), 1), (0, n - 1, *range(1, n - 1))] if n >= 3 else [])
    for perm in perms:
        t = np.transpose(x, perm)
        if all(s is None or s == d for s, d in zip(list(shape)[1:], t.shape[1:])):
            return np.ascontiguousarray(t)
    raise ValueError(f"no layout of {list(x.shape)} fits the SavedModel input {list(shape)}")


# ------------------------------------------------------------------ run inside a peer's venv
def _samples(inputs_npz: str) -> list[list[np.ndarray]]:
    """The samples an ``.npz`` holds: keys ``s{sample}_{input}``, in order."""
    data = np.load(inputs_npz)
    count = 1 + max(int(k[1:].split("_")[0]) for k in data.files)
    return [[data[k] for k in sorted((k for k in data.files if k.startswith(f"s{i}_")),
                                     key=lambda k: int(k.split("_")[1]))] for i in range(count)]


def save_samples(path: str, samples: list[list[np.ndarray]]) -> None:
    """Write samples (each a list of arrays in input order) for :func:`_samples`."""
    np.savez(path, **{f"s{i}_{j}": a for i, s in enumerate(samples) for j, a in enumerate(s)})


def load_outputs(path: str) -> list[list[np.ndarray]]:
    """The outputs a peer wrote with :func:`save_samples` (one list per sample)."""
    return _samples(path)


def onnx2torch_run(onnx_path: str, inputs_npz: str, outputs_npz: str) -> float:
    """In the onnx2torch venv: convert ``onnx_path``, run it on every sample, save the
    outputs; returns the conversion time (s)."""
    import time

    stub_torchvision()
    import torch
    from onnx2torch import convert

    torch.set_num_threads(1)
    start = time.perf_counter()
    model = convert(onnx_path).eval()
    seconds = time.perf_counter() - start
    outs = []
    with torch.inference_mode():
        for sample in _samples(inputs_npz):
            out = model(*[torch.from_numpy(a) for a in sample])
            out = list(out) if isinstance(out, (tuple, list)) else [out]
            outs.append([o.numpy() for o in out])
    save_samples(outputs_npz, outs)
    return seconds


def onnx2tf_run(saved_model: str, inputs_npz: str, outputs_npz: str) -> None:
    """In the onnx2tf venv: run the SavedModel onnx2tf wrote (``serving_default``) on every
    sample, inputs in the layout it takes (:func:`onnx2tf_feed`), and save its outputs in
    signature order."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    sig = tf.saved_model.load(saved_model).signatures["serving_default"]
    specs = sig.structured_input_signature[1]
    outs = []
    for sample in _samples(inputs_npz):
        feeds = {k: tf.constant(onnx2tf_feed(x, s.shape)) for (k, s), x in zip(specs.items(), sample)}
        result = sig(**feeds)
        outs.append([np.asarray(result[k]) for k in sorted(result)])
    save_samples(outputs_npz, outs)
