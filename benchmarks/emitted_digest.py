"""Fingerprint what the backends emit, so a refactoring can show it changed nothing.

Converts, without the parity check, every ONNX node conformance case and every model of the
conversion matrix (``benchmarks/zoo.py``'s registry; random weights from fixed seeds) to each
target, and records a SHA-256 per emitted file: the code (``model.py``), the manifest, and for
the weights their names, dtypes and shapes apart from their bytes.  ONNX output is hashed as
its graph with the initializers' bytes taken out, and those bytes separately.

    python benchmarks/emitted_digest.py --out before.json [--only nodes|matrix] [--models a,b]
    python benchmarks/emitted_digest.py --only nodes --match Pad,Resize --targets pytorch --out pad.json
    python benchmarks/emitted_digest.py --compare before.json after.json

``--compare`` lists every (model, target, file) whose digest differs, exit 1 when any does.
Conversions that fail are recorded by error type, so a refactoring that changes which models
convert shows up too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "tensorflow"), BENCH]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TARGETS = ("onnx", "pytorch", "tensorflow")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _safetensors_digest(path: str) -> dict:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    layout = {k: [v["dtype"], v["shape"]] for k, v in sorted(header.items())}
    return {"weights.layout": _sha(json.dumps(layout, sort_keys=True).encode()), "weights.bytes": _sha(data)}


def _onnx_digest(path: str) -> dict:
    import onnx

    model = onnx.load(path, load_external_data=False)
    data = hashlib.sha256()
    for t in model.graph.initializer:
        data.update(t.raw_data)
        t.ClearField("raw_data")
    return {"graph": _sha(model.SerializeToString(deterministic=True)), "weights.bytes": data.hexdigest()[:16]}


def digest_output(out: str) -> dict:
    """{file label: digest} of one emitted artifact (a folder or an .onnx file)."""
    if os.path.isfile(out):
        return _onnx_digest(out)
    result = {}
    for dirpath, _dirs, files in os.walk(out):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, out)
            if name.endswith(".safetensors"):
                result.update({f"{rel}:{k}": v for k, v in _safetensors_digest(path).items()})
            elif name.endswith(".onnx"):
                result.update({f"{rel}:{k}": v for k, v in _onnx_digest(path).items()})
            else:
                with open(path, "rb") as f:
                    result[rel] = _sha(f.read())
    return result


def convert_one(model, target: str, work: str, label: str, options: dict) -> dict:
    import mmconvert

    out = os.path.join(work, label.replace(":", "_") + "." + target + (".onnx" if target == "onnx" else ""))
    try:
        mmconvert.convert(model, out, to=target, validate=False, **options)
    except Exception as e:  # noqa: BLE001 - a failure is part of the fingerprint
        return {"error": type(e).__name__}
    return digest_output(out)


def node_digests(work: str, match: list[str] | None = None, targets=TARGETS) -> dict:
    import conformance as C

    results = {}
    for name, case in sorted(C.node_cases().items()):
        if match and not any(m in name for m in match):
            continue
        for target in targets:
            results[f"node:{name}|{target}"] = convert_one(case.model, target, work, name, {})
    return results


def matrix_digests(work: str, only: list[str] | None) -> dict:
    import zoo

    results = {}
    for key, entry in zoo.registry().items():
        if only and key not in only and entry.name not in only:
            continue
        _seed()
        src = zoo.build_source(entry)
        for target in zoo.TARGETS[entry.source]:
            t0 = time.time()
            results[f"{key}|{target}"] = convert_one(src.model, target, work, key, src.options)
            print(f"  {key} -> {target}: {time.time() - t0:.1f}s", file=sys.stderr, flush=True)
    return results


def _seed() -> None:
    import numpy as np

    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:
        pass
    try:
        import keras

        keras.utils.set_random_seed(0)
    except ImportError:
        pass


def compare(before: dict, after: dict) -> list[str]:
    lines = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        if a is None or b is None:
            lines.append(f"{key}: only in {'after' if a is None else 'before'}")
            continue
        for label in sorted(set(a) | set(b)):
            if a.get(label) != b.get(label):
                lines.append(f"{key}: {label}: {a.get(label)} -> {b.get(label)}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out")
    ap.add_argument("--only", choices=("nodes", "matrix"))
    ap.add_argument("--models", help="matrix keys or names, comma-separated")
    ap.add_argument("--match", help="node cases whose name contains one of these, comma-separated")
    ap.add_argument("--targets", default=",".join(TARGETS), help="node cases: the targets, comma-separated")
    ap.add_argument("--work", help="the folder conversions are written to (default: a fixed one per --only, emptied first)")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args(argv)
    if args.compare:
        with open(args.compare[0]) as f, open(args.compare[1]) as g:
            before, after = json.load(f), json.load(g)
        # a partial run (--match, --targets, --models) is compared on what it covers
        before = {k: v for k, v in before.items() if k in after}
        diffs = compare(before, after)
        print("\n".join(diffs) or "identical")
        return 1 if diffs else 0
    if not args.out:
        ap.error("--out or --compare is required")
    # one fixed folder: emitted files that name their own path stay comparable between runs
    work = args.work or os.path.join(tempfile.gettempdir(), f"mmconvert-emitted-digest-{args.only or 'all'}")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    results = {}
    if args.only != "matrix":
        results.update(node_digests(work, args.match.split(",") if args.match else None, args.targets.split(",")))
    if args.only != "nodes":
        results.update(matrix_digests(work, args.models.split(",") if args.models else None))
    with open(args.out, "w") as f:
        json.dump(results, f, indent=0, sort_keys=True)
    errors = sum("error" in v for v in results.values())
    print(f"{len(results)} conversions fingerprinted ({errors} failed) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
