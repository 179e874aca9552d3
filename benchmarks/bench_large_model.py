"""1 GB model: ONNX -> IR -> ONNX vs a bare ``onnx.load`` + ``onnx.save``, side by side.

Builds a stack of large Gemm layers (16 x 4096x4096 float32 = 1 GiB), then runs each
contender in a fresh subprocess, alternating, and records wall time and peak RSS.
Writes the table into docs/benchmarks.md (section "Large model").

    python benchmarks/bench_large_model.py [--layers 16] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "_work")

CHILD = r"""
import json, sys, time
mode, src, dst = sys.argv[1:4]
t0 = time.perf_counter()
if mode == "onnx":
    import onnx
    onnx.save(onnx.load(src), dst)
else:
    sys.path.insert(0, sys.argv[4])
    import mmconvert
    target = mode.partition(":")[2] or "onnx"
    mmconvert.convert(src, dst, to=target, validate=False)
dt = time.perf_counter() - t0
# VmHWM is this process image's own high-water mark (ru_maxrss would carry the parent's over exec)
hwm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": dt, "peak_rss": hwm}))
"""


def build(path: str, layers: int, dim: int) -> int:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(layers):
        w = rng.standard_normal((dim, dim), dtype=np.float32) * (1.0 / dim ** 0.5)
        inits.append(numpy_helper.from_array(w, f"layer{i}.weight"))
        inits.append(numpy_helper.from_array(np.zeros(dim, np.float32), f"layer{i}.bias"))
        nodes.append(helper.make_node("Gemm", [prev, f"layer{i}.weight", f"layer{i}.bias"], [f"h{i}"], name=f"layer{i}"))
        prev = f"h{i}"
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", dim])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["batch", dim])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    total = sum(t.ByteSize() for t in inits)
    for stale in (path, path + ".data"):  # onnx appends to an existing external data file
        if os.path.exists(stale):
            os.unlink(stale)
    if total < (2 << 30) - (64 << 20):
        onnx.save(model, path)
        return os.path.getsize(path)
    # over protobuf's 2 GB limit: ONNX external data beside the file
    onnx.save(model, path, save_as_external_data=True, location=os.path.basename(path) + ".data")
    return os.path.getsize(path) + os.path.getsize(path + ".data")


def run(mode: str, src: str, dst: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, src, dst, ROOT], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def verify(src: str, dst: str) -> None:
    """Every weight of the output equals the input's, byte for byte (memory-mapped reads)."""
    sys.path.insert(0, ROOT)
    import numpy as np

    import mmconvert

    a, b = mmconvert.load(src), mmconvert.load(dst)
    assert a.initializers.keys() == b.initializers.keys()
    for k in a.initializers:
        assert np.array_equal(a.initializers[k], b.initializers[k]), k


def _targets() -> list[str]:
    sys.path.insert(0, ROOT)
    from mmconvert.backends import TARGETS, get_backend

    out = []
    for t in TARGETS:
        try:
            get_backend(t)
            out.append(t)
        except Exception:  # noqa: BLE001 - a backend not built here, or its framework missing
            pass
    return out


def _run_artifact(target: str, path: str, x):
    """The artifact's output for ``x`` (each target's own runner)."""
    from mmconvert.validators.runners import get_runner

    return get_runner(path, target).run([x])[0]


def over_2gb(doc: str, layers: int = 36, dim: int = 4096) -> None:
    """A model over protobuf's 2 GB limit (external data in) converted to every target: each
    conversion in a fresh process (time, peak RSS), then each artifact run against ONNX Runtime."""
    sys.path.insert(0, ROOT)
    import numpy as np
    import onnx
    import onnxruntime as ort

    src = os.path.join(WORK, "big2.onnx")
    size = build(src, layers, dim)
    x = np.random.default_rng(0).standard_normal((2, dim)).astype(np.float32)
    ref = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    rows = []
    for target in _targets():
        dst = os.path.join(WORK, "big2_out.onnx" if target == "onnx" else f"big2_{target}")
        for p in (dst, dst + ".data"):
            if os.path.isdir(p):
                import shutil

                shutil.rmtree(p)
            elif os.path.exists(p):
                os.unlink(p)
        r = run(f"mmconvert:{target}", src, dst)
        if target == "onnx":
            assert os.path.exists(dst + ".data"), "weights over 2 GB go to external data"
            onnx.checker.check_model(dst, full_check=True)
        diff = float(np.abs(_run_artifact(target, dst, x) - ref).max())
        rows.append((target, r["seconds"], r["peak_rss"], diff))
        print(f"  {target}: {r['seconds']:.1f}s, peak RSS {r['peak_rss'] / 2**30:.2f} GiB, max abs diff {diff:g}", flush=True)
    lines = [
        "## Over 2 GB: external data, every target", "",
        f"Generated by `benchmarks/bench_large_model.py --over-2gb` on {time.strftime('%Y-%m-%d')}: {layers} Gemm layers "
        f"of {dim}x{dim} float32 ({size / 2**30:.2f} GiB, stored as ONNX external data since protobuf stops at 2 GB), "
        "converted to each target in a fresh process (`validate=False`; the weights stay memory-mapped from the source "
        "and are streamed to the artifact), then each artifact run on one input beside ONNX Runtime on the source. The "
        "ONNX output keeps its weights as external data and passes `onnx.checker.check_model(full_check=True)`.", "",
        "| target | convert time (s) | peak RSS (GiB) | peak RSS / model size | max abs diff vs ONNX Runtime |",
        "|---|---:|---:|---:|---:|",
    ]
    for target, seconds, rss, diff in rows:
        lines.append(f"| {target} | {seconds:.1f} | {rss / 2**30:.2f} | {rss / size:.2f} | {diff:.2g} |")
    text = "\n".join(lines) + "\n"
    _write_section(doc, "## Over 2 GB", text)
    print(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--dim", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--over-2gb", action="store_true", help="check a 2.25 GiB model (external data) instead")
    args = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    if args.over_2gb:
        over_2gb(args.doc)
        return
    src = os.path.join(WORK, "big.onnx")
    size = build(src, args.layers, args.dim)
    print(f"model: {size / 2**30:.2f} GiB", flush=True)
    results: dict[str, list[dict]] = {"onnx": [], "mmconvert": []}
    for i in range(args.repeat):
        for mode in ("onnx", "mmconvert"):
            dst = os.path.join(WORK, f"out_{mode}.onnx")
            r = run(mode, src, dst)
            results[mode].append(r)
            print(f"  {mode:9s} run {i + 1}: {r['seconds']:.2f}s, peak RSS {r['peak_rss'] / 2**30:.2f} GiB", flush=True)
    verify(src, os.path.join(WORK, "out_mmconvert.onnx"))
    med = {m: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "peak_rss")} for m, rs in results.items()}
    time_ratio = med["mmconvert"]["seconds"] / med["onnx"]["seconds"]
    rss_ratio = med["mmconvert"]["peak_rss"] / size
    table = [
        "## Large model: ONNX -> IR -> ONNX",
        "",
        f"Generated by `benchmarks/bench_large_model.py` on {time.strftime('%Y-%m-%d')}: {args.layers} Gemm layers of "
        f"{args.dim}x{args.dim} float32, a {size / 2**30:.2f} GiB ONNX file. Each run is a fresh process; the two "
        f"contenders alternate, {args.repeat} runs each; medians shown. The output's weights are checked byte for byte.",
        "",
        "| contender | wall time (s) | peak RSS (GiB) | peak RSS / model size |",
        "|---|---:|---:|---:|",
    ]
    for m, label in (("onnx", "`onnx.load` + `onnx.save`"), ("mmconvert", "`mmconvert.convert(..., to=\"onnx\")`")):
        table.append(f"| {label} | {med[m]['seconds']:.2f} | {med[m]['peak_rss'] / 2**30:.2f} | {med[m]['peak_rss'] / size:.2f} |")
    table += ["", f"Time ratio mmconvert / onnx: **{time_ratio:.2f}x** (target <= 2x). "
                  f"Peak RSS / model size: **{rss_ratio:.2f}x** (target < 1.5x).", ""]
    _write_section(args.doc, "## Large model", "\n".join(table))
    print("\n".join(table))


def _write_section(path: str, heading: str, text: str) -> None:
    """Replace (or append) the section that starts with ``heading`` in ``path``."""
    old = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nMeasured on this project's 2-core CI-class machine; each table says how it was made.\n"
    start = old.find(heading)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + len(heading))
        new = old[:start] + text + ("\n" + old[end + 1:] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(new.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
