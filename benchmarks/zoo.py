"""The conversion matrix: real architectures, every direction, judged against the source
framework's own outputs, with the usual peer converters beside; writes docs/support-matrix.md.

Sources (random weights, nothing downloaded):

- ONNX: the ``onnx`` package's light zoo models (``onnx/backend/test/data/light``);
- PyTorch: the ``transformers`` architectures the PyTorch frontend's tests use
  (``tests/pytorch_zoo.py``) and models built from well-known blocks (``_models.py``);
- TensorFlow / Keras: the ``keras.applications`` models the TensorFlow frontend's tests use
  (``tests/tensorflow/keras_models.py``, 96x96 inputs) and its small models, plus the same
  built blocks in Keras.

Each model is converted to both other frameworks (ONNX -> PyTorch, TensorFlow; PyTorch ->
ONNX, TensorFlow; TensorFlow -> ONNX, PyTorch) with ``mmconvert.convert`` and its parity check
against the source run by its own framework (ONNX: ONNX Runtime), at atol 1e-4 and rtol 1e-3
per element, on one random sample at each of two batch sizes where the model takes any
batch size.  A cell records pass/fail, the max abs error, the conversion time (convert's wall
time less its parity check), the emitted model's latency beside the source's (same process,
one thread each, interleaved rounds, best call), and for a failing cell the reason: the
typed error, or the parity report's worst output and the first diverging node (per layer,
against the source, or against this model's ONNX artifact for a TensorFlow source).

Peers run on the same cells and inputs, each as a subprocess in its own environment:
onnx2torch (ONNX -> PyTorch) and onnx2tf (ONNX -> TensorFlow) in their venvs (``_peers.py``),
``torch.onnx.export`` alone (PyTorch -> ONNX) and ``tf2onnx`` alone (TensorFlow -> ONNX),
judged by the same comparison (``validators.metrics.compare``).

Every model's cells run in one worker process with a time limit, so a hang or a crash
costs that model's remaining cells only.  Results go to ``benchmarks/_work/zoo.json``
(merged with an earlier run's, so a subset can be re-run), then the page is written.

    python benchmarks/zoo.py [--models onnx:light_resnet50,pytorch:bert] [--sources onnx,pytorch]
                             [--no-peers | --peers-only] [--doc-only] [--timeout 1200]
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
import traceback
from dataclasses import asdict, dataclass

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")
WORK = os.path.join(BENCH, "_work")
RESULTS = os.path.join(WORK, "zoo.json")
LIGHT = os.path.join(WORK, "light")  # the light models with random weights, made once
DOC = os.path.join(ROOT, "docs", "support-matrix.md")
README = os.path.join(ROOT, "README.md")
BEGIN, END = "<!-- zoo summary: written by benchmarks/zoo.py -->", "<!-- end of zoo summary -->"
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "tensorflow"), BENCH]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _peers  # noqa: E402

ATOL = 1e-4  # rtol stays the validator's float32 default, 1e-3: relative where outputs are large
TARGETS = {"onnx": ("pytorch", "tensorflow"), "pytorch": ("onnx", "tensorflow"), "tensorflow": ("onnx", "pytorch")}
LABEL = {"onnx": "ONNX", "pytorch": "PyTorch", "tensorflow": "TensorFlow"}
PEERS = {("onnx", "pytorch"): "onnx2torch", ("onnx", "tensorflow"): "onnx2tf", ("pytorch", "onnx"): "torch.onnx",
         ("tensorflow", "onnx"): "tf2onnx"}
IMAGE = 96  # keras.applications input size
OURS = "mmconvert"


@dataclass(frozen=True)
class Entry:
    key: str  # "<source>:<name>"
    source: str
    name: str
    family: str
    batches: tuple = (1, 3)


def registry() -> dict[str, Entry]:
    """Every model of the matrix, keyed ``source:name``."""
    import conformance
    import keras_models
    import pytorch_zoo

    import _models

    entries = [Entry(f"onnx:{n}", "onnx", n, "onnx light zoo", (1,))
               for n in (os.path.basename(p)[:-5] for p in conformance.light_models())]
    entries += [Entry(f"pytorch:{n}", "pytorch", n, "transformers") for n in pytorch_zoo.NAMES]
    entries += [Entry(f"pytorch:{n}", "pytorch", n, "built (PyTorch)") for n in _models.TORCH_INPUTS]
    entries += [Entry(f"tensorflow:{n}", "tensorflow", n, "keras.applications") for n in keras_models.APPLICATIONS]
    entries += [Entry(f"tensorflow:{n}", "tensorflow", n, "built (Keras)") for n in keras_models.SMALL]
    entries += [Entry(f"tensorflow:{n}", "tensorflow", n, "built (Keras)") for n in _models.KERAS]
    return {e.key: e for e in entries}


# ---------------------------------------------------------------------------------- sources
class Source:
    """A source model as a cell needs it: what ``convert`` takes, its load options, seeded
    inputs (``inputs(batch, seed) -> {name: array}`` in input order) and the source
    framework running it (``run(feeds) -> [array]``, ``call(feeds)`` for timing)."""

    def __init__(self, model, options, inputs, run, call=None):
        self.model, self.options, self.inputs, self.run = model, options, inputs, run
        self.call = call or run


def _ort_session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # the light files list their initializers as inputs: ORT warns for each
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def _onnx_source(entry: Entry) -> Source:
    import conformance

    import _models

    path = next(p for p in conformance.light_models() if os.path.basename(p) == entry.name + ".onnx")
    path = _models.light_model(path, LIGHT)
    sess = _ort_session(path)
    specs = [(i.name, i.shape) for i in sess.get_inputs()]

    def inputs(batch, seed):
        rng = np.random.default_rng(seed)
        return {n: rng.standard_normal([batch if k == 0 else d for k, d in enumerate(s)]).astype(np.float32)
                for n, s in specs}

    return Source(path, {}, inputs, lambda feeds: sess.run(None, feeds))


def _torch_source(entry: Entry) -> Source:
    import torch

    import _models
    import pytorch_zoo

    if entry.family == "transformers":
        model, example, dynamic, make = pytorch_zoo.build(entry.name)

        def inputs(batch, seed):
            return {k: v.numpy() for k, v in make(batch, 16, seed).items()}
    else:
        model, inputs, dynamic = _models.torch_model(entry.name)
        example = {k: torch.from_numpy(v) for k, v in inputs(2, 0).items()}  # 2: no 0/1 specialization

    def run(feeds):
        with torch.inference_mode():
            out = model(**{k: torch.from_numpy(v) for k, v in feeds.items()})
        return [t.numpy() for t in pytorch_zoo.flat_outputs(out)]

    return Source(model, {"example_inputs": example, "dynamic_shapes": dynamic}, inputs, run)


def _keras_source(entry: Entry) -> Source:
    import keras
    import tensorflow as tf

    import _models
    import keras_models

    if entry.family == "keras.applications":
        model = keras_models.application(entry.name, input_shape=(IMAGE, IMAGE, 3))
    elif entry.name in keras_models.SMALL:
        model = keras_models.SMALL[entry.name]()
    else:
        model = _models.keras_model(entry.name)
    names = [t.name for t in model.inputs]

    def inputs(batch, seed):
        return dict(zip(names, keras_models.sample_inputs(model, batch=batch, seed=seed)))

    def pack(feeds):
        xs = list(feeds.values())
        return xs if len(xs) > 1 else xs[0]

    fn = tf.function(lambda x: model(x, training=False))  # as a performance-minded user calls it

    def run(feeds):
        return [np.asarray(t) for t in keras.tree.flatten(model(pack(feeds), training=False))]

    return Source(model, {}, inputs, run, call=lambda feeds: fn(pack(feeds)))


def build_source(entry: Entry) -> Source:
    return {"onnx": _onnx_source, "pytorch": _torch_source, "tensorflow": _keras_source}[entry.source](entry)


def samples(entry: Entry, src: Source) -> list[dict]:
    """One seeded sample per batch size."""
    return [src.inputs(b, seed) for seed, b in enumerate(entry.batches)]


# ---------------------------------------------------------------------------------- reasons
def error_reason(e: BaseException) -> str:
    """A failing conversion's reason, naming the op or feature at fault: a typed error's own
    message (an unsupported op list, the node that could not be converted), or for any other
    exception (a bug) its type, message and the innermost mmconvert frame."""
    from mmconvert.ir.errors import MMConvertError, UnsupportedOpsError

    if isinstance(e, UnsupportedOpsError):
        ops = ", ".join(f"{d + '::' if d else ''}{op} x{len(nodes)}" for (d, op), nodes in sorted(e.missing.items()))
        return f"unsupported on {e.target}: {ops}"
    text = " ".join(str(e).split())
    if isinstance(e, MMConvertError):
        return f"{type(e).__name__}: {_clip(text)}"
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if f.filename.startswith(ROOT) and os.sep + "benchmarks" + os.sep not in f.filename]
    where = f" at {os.path.relpath(frames[-1].filename, ROOT)}:{frames[-1].lineno} ({frames[-1].name})" if frames else ""
    return f"bug: {type(e).__name__}: {_clip(text)}{where}"


def parity_reason(report: dict, first: dict | None = None) -> str:
    """A parity failure's reason from a report's dict (``ParityReport.to_dict()``): the worst
    output, its error and mismatch share, and the first diverging node with its op."""
    bad = [o for o in report["outputs"] if o["status"] not in ("pass", "excluded")]
    worst = max(bad, key=lambda o: (o.get("max_abs") or 0.0)) if bad else None
    parts = []
    if worst is not None:
        if worst.get("message"):
            parts.append(f"output '{worst['name']}': {worst['message']}")
        else:
            parts.append(f"output '{worst['name']}' max abs {worst['max_abs']:.2g} "
                         f"({worst['mismatch_fraction']:.1%} of elements beyond atol {worst['atol']:g} + rtol {worst['rtol']:g})")
    first = first or report.get("first_divergent")
    if first:
        parts.append(f"first diverging node '{first['node']}' ({first['op_type']}), max abs {first['max_abs']:.2g} "
                     f"from inputs within {first.get('input_max_abs', 0.0):.2g}")
    return "parity: " + "; ".join(parts or ["failed"])


def _clip(text: str, n: int = 300) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


# ---------------------------------------------------------------------------------- our cells
def _load_emitted(target: str, out: str):
    """A callable ``f(list of arrays) -> outputs`` for an artifact, in the graph's input order."""
    if target == "onnx":
        sess = _ort_session(out)
        names = [i.name for i in sess.get_inputs()]
        return lambda xs: sess.run(None, dict(zip(names, xs)))
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"zoo_{abs(hash(out))}", os.path.join(out, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load_model()
    if target == "pytorch":
        import torch

        def call(xs):
            with torch.inference_mode():
                return model(*[torch.from_numpy(x) for x in xs])
        return call
    return lambda xs: model(*xs)


def latency(source_call, emitted_call, rounds: int = 3, per_round: int = 3) -> tuple[float, float]:
    """Best call time (s) of the source and of the emitted model, timed in interleaved
    rounds after a warm-up call each."""
    source_call(), emitted_call()
    times: dict = {source_call: [], emitted_call: []}
    for _ in range(rounds):
        for fn, seen in times.items():
            for _ in range(per_round):
                t = time.perf_counter()
                fn()
                seen.append(time.perf_counter() - t)
    return min(times[source_call]), min(times[emitted_call])


def run_cell(entry: Entry, src: Source, target: str, work: str, onnx_artifact: str | None = None) -> dict:
    """One of our cells: convert, check parity on both batch sizes, time, diagnose a failure."""
    import mmconvert
    from mmconvert.ir.errors import MMConvertError

    out = os.path.join(work, f"{entry.name}.{target}" + (".onnx" if target == "onnx" else ""))
    feeds = samples(entry, src)
    data = [list(f.values()) for f in feeds]
    cell = {"model": entry.key, "target": target, "tool": OURS, "batches": list(entry.batches)}
    try:
        result = mmconvert.convert(src.model, out, to=target, framework=entry.source, atol=ATOL, data=data,
                                   force=True, **src.options)
    except MMConvertError as e:
        return {**cell, "status": "fail", "reason": error_reason(e)}
    except Exception as e:  # noqa: BLE001 - a bug: recorded with where it happened
        return {**cell, "status": "fail", "reason": error_reason(e)}
    report = result.parity
    cell.update(status=report.status, artifact=out,
                convert_s=result.seconds - sum(report.timings.values()),
                max_abs=max((o.max_abs for o in report.outputs), default=0.0),
                scale=max(float(np.abs(np.asarray(r, np.float64)).max(initial=0.0)) for r in src.run(feeds[0])))
    if report.status != "pass":
        cell["reason"] = parity_reason(report.to_dict(), diagnose(entry, src, target, out, data, onnx_artifact))
    try:
        emitted = _load_emitted(target, out)
        x = feeds[0]
        s, e = latency(lambda: src.call(x), lambda: emitted(list(x.values())))
        cell.update(source_ms=1e3 * s, emitted_ms=1e3 * e, latency_ratio=e / s)
    except Exception as e:  # noqa: BLE001 - a latency that cannot be measured is reported, not fatal
        cell["latency_error"] = error_reason(e)
    return cell


def diagnose(entry: Entry, src: Source, target: str, out: str, data: list, onnx_artifact: str | None) -> dict | None:
    """The first diverging node, per layer on the first sample: against the source itself
    (ONNX, PyTorch), or for a TensorFlow source against its ONNX artifact when that passed
    (TensorFlow references expose no intermediate tensors)."""
    import mmconvert

    reference, options = src.model, dict(src.options)
    if entry.source == "tensorflow":
        if not onnx_artifact or target == "onnx":
            return None
        reference, options = onnx_artifact, {}
    try:
        report = mmconvert.validate(reference, out, atol=ATOL, data=data[:1], per_layer=True, **options)
    except Exception:  # noqa: BLE001 - the reason then names the output only
        return None
    return report.first_divergent


def worker(key: str, work: str, targets: list[str]) -> None:
    """Run one model's cells in this process, printing a ``CELL {json}`` line per cell."""
    _threads(1)
    entry = registry()[key]
    try:
        src = build_source(entry)
    except Exception as e:  # noqa: BLE001
        for t in targets:
            print("CELL " + json.dumps({"model": key, "target": t, "tool": OURS, "status": "fail",
                                        "reason": "source model could not be built: " + error_reason(e)}), flush=True)
        return
    onnx_artifact = None
    for target in sorted(targets, key=lambda t: t != "onnx"):  # ONNX first: it helps diagnose the other
        cell = run_cell(entry, src, target, work, onnx_artifact)
        if target == "onnx" and cell["status"] == "pass":
            onnx_artifact = cell.get("artifact")
        cell.pop("artifact", None)
        print("CELL " + json.dumps(cell), flush=True)


def _threads(n: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(n)
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except (ImportError, RuntimeError):
        pass


# ---------------------------------------------------------------------------------- peers
def compare(refs: list[list[np.ndarray]], cands: list[list[np.ndarray]]) -> tuple[str, float, str]:
    """(status, max abs, reason) of a peer's outputs against the source's, per sample, with the
    validator's own comparison at the matrix's tolerances; outputs are paired in order, and a
    candidate output in another layout (onnx2tf moves channels last) is permuted back when
    exactly one permutation of it fits."""
    from mmconvert.validators import metrics

    if any(len(c) < len(r) for r, c in zip(refs, cands)):
        return "fail", float("nan"), f"{len(cands[0])} outputs, the source has {len(refs[0])}"
    worst, status, reason = 0.0, "pass", ""
    for k in range(len(refs[0])):
        r = [np.asarray(s[k]) for s in refs]
        c = [_fit_layout(np.asarray(s[k]), ref) for s, ref in zip(cands, r)]
        m = metrics.compare(r, c, ATOL, metrics.DEFAULT_FLOAT[1])
        worst = max(worst, float(m.get("max_abs", 0.0)))
        if m["status"] != "pass" and status == "pass":
            status = "fail"
            detail = [f"max abs {m['max_abs']:.2g}"] if m.get("max_abs") else []
            reason = f"output {k}: " + ", ".join(detail + [m.get("message") or "differs"])
    return status, worst, reason


def _fit_layout(c: np.ndarray, ref: np.ndarray) -> np.ndarray:
    if c.shape == ref.shape or c.ndim < 3 or c.ndim != ref.ndim:
        return c.reshape(ref.shape) if c.size == ref.size and c.ndim != ref.ndim else c
    n = c.ndim
    fits = [p for p in [(0, n - 1, *range(1, n - 1)), (0, *range(2, n), 1)]
            if tuple(np.transpose(c, p).shape) == ref.shape]
    return np.transpose(c, fits[0]) if len(fits) == 1 else c


def peer_framework_worker(key: str, work: str) -> None:
    """torch.onnx alone or tf2onnx alone on one model (this process), ONNX Runtime running
    its file on the matrix's samples; prints ``PEER {json}``."""
    _threads(1)
    entry = registry()[key]
    src = build_source(entry)
    feeds = samples(entry, src)
    path = os.path.join(work, f"{entry.name}.peer.onnx")
    start = time.perf_counter()
    try:
        if entry.source == "pytorch":
            _torch_onnx(src, path)
        else:
            import real_models

            real_models.keras_to_onnx(src.model, path)
    except Exception as e:  # noqa: BLE001 - the peer's failure is the cell's result
        print("PEER " + json.dumps({"status": "fail", "reason": f"conversion failed: {type(e).__name__}: "
                                    f"{_clip(' '.join(str(e).split()), 200)}"}), flush=True)
        return
    seconds = time.perf_counter() - start
    try:
        sess = _ort_session(path)
        names = [i.name for i in sess.get_inputs()]
        cands = [sess.run(None, dict(zip(names, f.values())) if set(names) != set(f) else f) for f in feeds]
    except Exception as e:  # noqa: BLE001
        print("PEER " + json.dumps({"status": "fail", "convert_s": seconds,
                                    "reason": f"its file does not run on ONNX Runtime: {type(e).__name__}: "
                                              f"{_clip(' '.join(str(e).split()), 200)}"}), flush=True)
        return
    status, worst, reason = compare([src.run(f) for f in feeds], cands)
    print("PEER " + json.dumps({"status": status, "max_abs": worst, "convert_s": seconds, "reason": reason}),
          flush=True)


def _torch_onnx(src: Source, path: str) -> None:
    import contextlib
    import io
    import warnings

    import torch

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(src.model, (), path, kwargs=src.options["example_inputs"],
                          dynamic_shapes=src.options["dynamic_shapes"], dynamo=True, verbose=False)


def run_peer(entry: Entry, target: str, work: str, timeout: float) -> dict:
    """One peer cell, run as subprocesses; the record beside ours."""
    peer = PEERS[(entry.source, target)]
    cell = {"model": entry.key, "target": target, "tool": peer}
    if entry.source != "onnx":
        lines, error = _subprocess([sys.executable, __file__, "--peer-worker", entry.key, "--work", work], timeout)
        found = [json.loads(ln[5:]) for ln in lines if ln.startswith("PEER ")]
        return {**cell, **(found[0] if found else {"status": "fail", "reason": error})}
    src = _onnx_source(entry)
    feeds = samples(entry, src)
    inputs = os.path.join(work, f"{entry.name}.inputs.npz")
    outputs = os.path.join(work, f"{entry.name}.{peer}.outputs.npz")
    _peers.save_samples(inputs, [list(f.values()) for f in feeds])
    refs = [src.run(f) for f in feeds]
    path, start = src.model, time.perf_counter()
    if peer == "onnx2torch":
        code = (f"import sys, json; sys.path.insert(0, {BENCH!r}); import _peers; "
                f"print('PEER ' + json.dumps(_peers.onnx2torch_run({path!r}, {inputs!r}, {outputs!r})))")
        lines, error = _subprocess([os.path.join(_peers.ONNX2TORCH_VENV, "bin", "python"), "-c", code], timeout)
        seconds = next((json.loads(ln[5:]) for ln in lines if ln.startswith("PEER ")), None)
    else:
        saved = os.path.join(work, f"{entry.name}.onnx2tf")
        try:
            proc = _peers.onnx2tf_convert(path, saved, os.path.join(work, "onnx2tf_cwd"), timeout=timeout)
            error = None if proc.returncode == 0 and os.path.exists(os.path.join(saved, "saved_model.pb")) else \
                "conversion failed: " + _last_error(proc.stdout + proc.stderr)
        except subprocess.TimeoutExpired:
            error = f"conversion timed out after {timeout:.0f} s"
        seconds = time.perf_counter() - start  # onnx2tf's conversion as a fresh process (TensorFlow import included)
        if error is None:
            code = (f"import sys; sys.path.insert(0, {BENCH!r}); import _peers; "
                    f"_peers.onnx2tf_run({saved!r}, {inputs!r}, {outputs!r})")
            _, error = _subprocess([os.path.join(_peers.ONNX2TF_VENV, "bin", "python"), "-c", code], timeout)
            error = error and "its SavedModel does not run: " + error
    if error is None and os.path.exists(outputs):
        status, worst, why = compare(refs, _peers.load_outputs(outputs))
        return {**cell, "status": status, "max_abs": worst, "convert_s": seconds, "reason": why}
    return {**cell, "status": "fail", "reason": error or "no outputs"}


def _subprocess(cmd: list[str], timeout: float) -> tuple[list[str], str | None]:
    """Run ``cmd`` in its own process group with a time limit: (stdout lines, None) or (lines
    so far, why it failed)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=ROOT, start_new_session=True,
                                env=dict(os.environ, PYTHONPATH="", TF_CPP_MIN_LOG_LEVEL="2"))
        try:
            proc.wait(timeout=timeout)
            error = None
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            error = f"timed out after {timeout:.0f} s"
        out.seek(0), err.seek(0)
        lines = out.read().splitlines()
        if proc.returncode and error is None:  # a native abort says why on stderr too (TensorFlow's "Check failed")
            error = _last_error(err.read())
            if proc.returncode < 0:
                error = f"killed by signal {-proc.returncode}: {error}"
    return lines, error


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln or "error" in ln or "Check failed" in ln]
    return _clip((errors or lines or ["no output"])[-1], 240)


# ---------------------------------------------------------------------------------- the run
def run_model(entry: Entry, work: str, timeout: float) -> list[dict]:
    """Our cells of one model, in a worker process; cells it did not reach are recorded so."""
    targets = list(TARGETS[entry.source])
    start = time.perf_counter()
    lines, error = _subprocess([sys.executable, __file__, "--worker", entry.key, "--work", work,
                                "--targets", ",".join(targets)], timeout)
    cells = [json.loads(ln[5:]) for ln in lines if ln.startswith("CELL ")]
    done = {c["target"] for c in cells}
    for t in targets:
        if t not in done:
            cells.append({"model": entry.key, "target": t, "tool": OURS, "status": "fail",
                          "reason": f"worker stopped: {error or 'no result'}"})
    for c in cells:
        c["worker_s"] = time.perf_counter() - start
    return cells


def versions() -> dict:
    """Versions of the frameworks and of each peer (asked of the peer's own interpreter)."""
    import importlib.metadata as md

    ours = {}
    for pkg in ("torch", "tensorflow-cpu", "keras", "onnx", "onnxruntime", "transformers", "tf2onnx"):
        try:
            ours[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    peers = {"torch.onnx": f"torch {ours.get('torch')}", "tf2onnx": ours.get("tf2onnx")}
    for peer, venv, pkg in (("onnx2torch", _peers.ONNX2TORCH_VENV, "onnx2torch"), ("onnx2tf", _peers.ONNX2TF_VENV, "onnx2tf")):
        code = f"import importlib.metadata as m; print(m.version({pkg!r}), 'with', 'tensorflow', m.version('tensorflow')) " \
            if peer == "onnx2tf" else f"import importlib.metadata as m; print(m.version({pkg!r}), 'with torch', m.version('torch'))"
        proc = subprocess.run([os.path.join(venv, "bin", "python"), "-c", code], capture_output=True, text=True)
        peers[peer] = proc.stdout.strip() if proc.returncode == 0 else "not installed"
    return {"ours": ours, "peers": peers}


def load_results(path: str = RESULTS) -> dict:
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {"meta": {}, "models": {}, "cells": []}


def merge(results: dict, cells: list[dict]) -> None:
    """Replace the results' cells of the same (model, target, tool)."""
    key = lambda c: (c["model"], c["target"], c["tool"])  # noqa: E731
    new = {key(c) for c in cells}
    results["cells"] = [c for c in results["cells"] if key(c) not in new] + cells


def save_results(results: dict, path: str = RESULTS) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------- the page
def _cell_text(c: dict | None) -> str:
    if c is None:
        return "-"
    if c["status"] == "pass":
        return f"pass ({c['max_abs']:.0e})" if c.get("max_abs") is not None else "pass"
    return "**fail**" + (f" ({c['max_abs']:.0e})" if isinstance(c.get("max_abs"), float) and c["max_abs"] == c["max_abs"] else "")


def _num(v, fmt) -> str:
    return "-" if v is None else fmt.format(v)


def summary(results: dict) -> list[dict]:
    """Per direction: our passes and cells, the peer's passes on the same cells."""
    models = results["models"]
    rows = []
    for source, targets in TARGETS.items():
        for target in targets:
            ours = [c for c in results["cells"] if c["tool"] == OURS and c["target"] == target
                    and models.get(c["model"], {}).get("source") == source]
            peer = PEERS.get((source, target))
            theirs = [c for c in results["cells"] if c["tool"] == peer and c["target"] == target
                      and models.get(c["model"], {}).get("source") == source] if peer else []
            rows.append({"source": source, "target": target, "cells": len(ours),
                         "passed": sum(c["status"] == "pass" for c in ours),
                         "architectures": len({c["model"] for c in ours if c["status"] == "pass"}),
                         "peer": peer, "peer_cells": len(theirs), "peer_passed": sum(c["status"] == "pass" for c in theirs)})
    return rows


def run_seconds(results: dict) -> tuple[float, float]:
    """(seconds of our model workers, seconds of the peers' cells) the results took to make."""
    workers = {c["model"]: c.get("worker_s", 0.0) for c in results["cells"] if c["tool"] == OURS}
    return sum(workers.values()), sum(c.get("wall_s", 0.0) for c in results["cells"] if c["tool"] != OURS)


def _plain(text: str | None) -> str:
    """A reason as plain text: terminal colour codes (torch.onnx prints them) removed."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text or "")


def render(results: dict) -> str:
    """docs/support-matrix.md from the results (pure: the fast test calls it on made-up results)."""
    meta, models = results.get("meta", {}), results["models"]
    cells = {(c["model"], c["target"], c["tool"]): c for c in results["cells"]}
    rows = summary(results)
    total = sum(r["cells"] for r in rows)
    passed = sum(r["passed"] for r in rows)
    v = meta.get("versions", {})
    ours_s, peers_s = run_seconds(results)
    ours_v = ", ".join(f"{k} {x}" for k, x in v.get("ours", {}).items())
    peers_v = ", ".join(f"{k} {x}" for k, x in v.get("peers", {}).items())
    lines = [
        "# Support matrix: real models, every direction",
        "",
        f"Generated by `python benchmarks/zoo.py` on {meta.get('date', '?')} from real runs; do not edit by hand"
        f" ({meta.get('machine', '?')}; {ours_v}). Run time: {ours_s / 60:.0f} min for mmconvert's cells"
        f" (every model's worker process: build, convert, check, time), {peers_s / 60:.0f} min for the peers'.",
        f"Peers: {peers_v}, each run as a subprocess in its own environment, on the same cells and inputs.",
        "What each ONNX operator's conformance cases give per target is in [op support](op-support.md).",
        "",
        f"**{passed} of {total} cells pass ({100 * passed / max(total, 1):.1f}%)**, {len(models)} architectures.",
        "",
        "| direction | mmconvert | architectures | peer | peer passes |",
        "|---|---:|---:|---|---:|",
    ]
    for r in rows:
        rate = f"{r['passed']}/{r['cells']} ({100 * r['passed'] / max(r['cells'], 1):.0f}%)"
        peer = f"{r['peer_passed']}/{r['peer_cells']}" if r["peer"] else "-"
        lines.append(f"| {LABEL[r['source']]} -> {LABEL[r['target']]} | {rate} | {r['architectures']} |"
                     f" {r['peer'] or 'no single-tool peer'} | {peer} |")
    lines += [
        "",
        "How a cell is judged: `mmconvert.convert(source, out, to=target)` with its parity check against the"
        " **source run by its own framework** (PyTorch module, Keras model; ONNX sources on ONNX Runtime), atol"
        " 1e-4 plus rtol 1e-3 x |reference| per element, on one seeded random sample at each batch size listed"
        " (one where the model's batch is fixed). *max abs* is the largest difference over all outputs and samples;"
        " *convert* is convert's wall time less its parity check; *latency* is the emitted model's best call over"
        " the source's (same process, one thread each, interleaved rounds, first sample). Peers run on the same"
        " inputs and are judged by the same comparison; a `-` in a peer column is a cell not run (a run stopped"
        " for time, or one whose harness was at fault and was discarded), not a failure.",
        "",
    ]
    for source, targets in TARGETS.items():
        keys = [k for k, m in models.items() if m["source"] == source]
        if not keys:
            continue
        head = ["model", "family", "batches"]
        for t in targets:
            peer = PEERS.get((source, t))
            head += [f"-> {LABEL[t]}", "convert (s)", "latency"] + ([peer] if peer else [])
        sep = ["---", "---", "---"]
        for t in targets:
            sep += ["---", "---:", "---:"] + (["---"] if PEERS.get((source, t)) else [])
        lines += [f"## From {LABEL[source]}", "", "| " + " | ".join(head) + " |", "|" + "|".join(sep) + "|"]
        for k in keys:
            m = models[k]
            row = [m["name"], m["family"], ",".join(str(b) for b in m["batches"])]
            for t in targets:
                c = cells.get((k, t, OURS))
                row += [_cell_text(c), _num(c and c.get("convert_s"), "{:.1f}"),
                        _num(c and c.get("latency_ratio"), "{:.2f}x")]
                peer = PEERS.get((source, t))
                if peer:
                    pc = cells.get((k, t, peer))
                    row.append(_cell_text(pc))
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        if source == "onnx":
            lines += ["The light zoo files keep every weight as a `ConstantOfShape` of one value (each model then"
                      " computes a constant); every converter here gets a copy whose weights are seeded random"
                      " initializers (`_models.light_model`).", ""]
    lines += ["PyTorch -> TensorFlow and TensorFlow -> PyTorch have no single-tool peer: the usual route chains two"
              " converters through an ONNX file (torch.onnx + onnx2tf, tf2onnx + onnx2torch), each with the limits"
              " shown in its own column.", "", "## Failing cells", ""]
    fails = [c for c in results["cells"] if c["tool"] == OURS and c["status"] != "pass"]
    if not fails:
        lines.append("none")
    for c in sorted(fails, key=lambda c: (c["model"], c["target"])):
        m = models.get(c["model"], {})
        lines.append(f"- **{m.get('name', c['model'])}** ({LABEL.get(m.get('source'), '?')} -> {LABEL[c['target']]}):"
                     f" {_plain(c.get('reason')) or 'no reason recorded'}")
    untimed = [c for c in results["cells"] if c["tool"] == OURS and c.get("latency_error")]
    if untimed:
        lines += ["", "## Cells whose artifact could not be timed", "",
                  "The parity check passed (ONNX Runtime runs ONNX artifacts with graph optimizations off there), but"
                  " the timed run, in the configuration a user gets by default, failed:", ""]
        for c in sorted(untimed, key=lambda c: (c["model"], c["target"])):
            m = models.get(c["model"], {})
            lines.append(f"- **{m.get('name', c['model'])}** ({LABEL.get(m.get('source'), '?')} -> {LABEL[c['target']]}):"
                         f" {_plain(c['latency_error'])}")
    peer_fails = [c for c in results["cells"] if c["tool"] != OURS and c["status"] != "pass"]
    if peer_fails:
        lines += ["", "## Peers' failing cells", ""]
        for c in sorted(peer_fails, key=lambda c: (c["tool"], c["model"])):
            m = models.get(c["model"], {})
            lines.append(f"- {c['tool']}, **{m.get('name', c['model'])}** -> {LABEL[c['target']]}:"
                         f" {_plain(c.get('reason')) or 'outputs differ'}")
    return "\n".join(lines) + "\n"


def readme_summary(results: dict) -> str:
    """README's "What works today" table: the page's numbers per direction, with a link."""
    rows = summary(results)
    total, passed = sum(r["cells"] for r in rows), sum(r["passed"] for r in rows)
    lines = ["| direction | real models passing (mmconvert) | the usual single tool, same models |", "|---|---|---|"]
    timeouts = {}
    for c in results["cells"]:
        if c["tool"] != OURS and c["status"] != "pass" and "timed out" in (c.get("reason") or ""):
            timeouts[c["tool"]] = timeouts.get(c["tool"], 0) + 1
    for r in rows:
        peer = f"{r['peer']}: {r['peer_passed']} of {r['peer_cells']}" if r["peer"] else "none (two tools chained through ONNX)"
        if r["peer"] and timeouts.get(r["peer"]):
            peer += f" ({timeouts[r['peer']]} of the misses: out of time, see the page)"
        lines.append(f"| {LABEL[r['source']]} -> {LABEL[r['target']]} | {r['passed']} of {r['cells']} | {peer} |")
    lines += ["", f"{passed} of {total} model x direction cells pass ({100 * passed / max(total, 1):.1f}%) over"
              f" {len(results['models'])} architectures, each judged against the source framework's own outputs at"
              " atol 1e-4: model by model, with max errors, conversion times, latency beside the source, the"
              f" peers' results and the reason for every failing cell, in the [support matrix](docs/support-matrix.md)"
              f" (generated {results.get('meta', {}).get('date', '?')})."]
    return "\n".join(lines)


def update_readme(text: str, summary_text: str) -> str:
    """``text`` (README.md) with the part between the zoo markers replaced by ``summary_text``."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"README.md has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    return head + BEGIN + "\n" + summary_text + "\n" + END + rest.split(END, 1)[1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated keys (source:name); default all")
    ap.add_argument("--sources", default="", help="comma-separated source frameworks; default all")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--peers-only", action="store_true")
    ap.add_argument("--doc-only", action="store_true", help="rewrite the page from the saved results")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per model worker and per peer cell")
    ap.add_argument("--results", default=RESULTS)
    ap.add_argument("--doc", default=DOC)
    ap.add_argument("--merge", default="", help="comma-separated results files (of runs made apart) to merge in")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--peer-worker", help=argparse.SUPPRESS)
    ap.add_argument("--targets", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.work, args.targets.split(","))
    if args.peer_worker:
        return peer_framework_worker(args.peer_worker, args.work)
    results = load_results(args.results)
    for path in [p for p in args.merge.split(",") if p]:
        other = load_results(path)
        results["models"].update(other["models"])
        merge(results, other["cells"])
    if not args.doc_only:
        entries = registry()
        keys = [k for k in (args.models.split(",") if args.models else entries) if k]
        if args.sources:
            keys = [k for k in keys if entries[k].source in args.sources.split(",")]
        os.makedirs(WORK, exist_ok=True)
        for key in keys:
            entry = entries[key]
            results["models"][key] = {k: v for k, v in asdict(entry).items() if k != "key"}
            with tempfile.TemporaryDirectory(prefix="zoo-", dir=WORK) as work:
                cells = [] if args.peers_only else run_model(entry, work, args.timeout)
                for t in [] if args.no_peers else [t for t in TARGETS[entry.source] if (entry.source, t) in PEERS]:
                    peer_start = time.perf_counter()
                    cells.append({**run_peer(entry, t, work, args.timeout), "wall_s": time.perf_counter() - peer_start})
            merge(results, cells)
            for c in cells:
                print(f"{c['tool']:>11} {key:32s} -> {c['target']:10s} {c['status']:4s} "
                      f"{_num(c.get('max_abs'), '{:.1e}'):>8} {c.get('reason', '')[:150]}", flush=True)
            save_results(results, args.results)
        results["meta"] = {**results.get("meta", {}), "date": time.strftime("%Y-%m-%d"),
                           "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                           "versions": versions()}
        save_results(results, args.results)
    with open(args.doc, "w", encoding="utf-8") as f:
        f.write(render(results))
    print(f"wrote {args.doc}")
    if args.doc == DOC:  # the summary follows the page it links to
        with open(README, encoding="utf-8") as f:
            text = update_readme(f.read(), readme_summary(results))
        with open(README, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"updated {README}")


if __name__ == "__main__":
    main()
