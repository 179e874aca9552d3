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

TensorFlow sources do not convert to the same bytes twice: tf2onnx's node order varies from
run to run (same code, same seed, same ``PYTHONHASHSEED``), and with it which of two equal
nodes the optimizer keeps and so the names in ``model.py``.  Every conversion therefore also
gets a ``~structure`` digest that ignores order and names (the ONNX graph's op types and its
initializers as a multiset; ``model.py``'s lines with every identifier but the framework's
replaced by one placeholder, as a multiset, and the weights as a multiset); ``--compare
--structure-only tensorflow`` compares only that digest for the keys of TensorFlow sources.
Conversions that fail are recorded by error type, so a refactoring that changes which models
convert shows up too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
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


def _read_safetensors(path: str) -> tuple[dict, bytes]:
    """(header without its metadata, the data bytes) of a safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return header, data


def _safetensors_digest(path: str) -> dict:
    header, data = _read_safetensors(path)
    layout = {k: [v["dtype"], v["shape"]] for k, v in sorted(header.items())}
    return {"weights.layout": _sha(json.dumps(layout, sort_keys=True).encode()), "weights.bytes": _sha(data)}


def _onnx_digest(path: str) -> dict:
    import onnx

    model = onnx.load(path, load_external_data=False)
    data = hashlib.sha256()
    weights = []
    for t in model.graph.initializer:
        data.update(t.raw_data)
        weights.append([t.data_type, list(t.dims), _sha(t.raw_data)])
        t.ClearField("raw_data")
    ops = sorted(n.op_type for n in model.graph.node)
    return {"graph": _sha(model.SerializeToString(deterministic=True)), "weights.bytes": data.hexdigest()[:16],
            "~structure": _sha(json.dumps([ops, sorted(weights)]).encode())}


_KEEP = frozenset("torch F nn tf self del return list tuple int float len range".split())


def _code_structure(text: str) -> list[str]:
    """The lines of emitted code as a sorted multiset, every identifier but the framework's
    replaced by ``X``."""
    anon = re.sub(r"\b[A-Za-z_]\w*\b", lambda m: m.group(0) if m.group(0) in _KEEP else "X", text)
    return sorted(anon.splitlines())


def _safetensors_tensors(path: str) -> list:
    header, data = _read_safetensors(path)
    return sorted([v["dtype"], v["shape"], _sha(data[v["data_offsets"][0]:v["data_offsets"][1]])]
                  for v in header.values())


def digest_output(out: str) -> dict:
    """{file label: digest} of one emitted artifact (a folder or an .onnx file)."""
    if os.path.isfile(out):
        return _onnx_digest(out)
    result, structure = {}, []
    for dirpath, _dirs, files in sorted(os.walk(out)):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, out)
            if name == "model.py":
                with open(path, encoding="utf-8") as f:
                    structure.append([rel, _code_structure(f.read())])
            if name.endswith(".safetensors"):
                structure.append([rel, _safetensors_tensors(path)])
                result.update({f"{rel}:{k}": v for k, v in _safetensors_digest(path).items()})
            elif name.endswith(".onnx"):
                result.update({f"{rel}:{k}": v for k, v in _onnx_digest(path).items()})
            else:
                with open(path, "rb") as f:
                    result[rel] = _sha(f.read())
    result["~structure"] = _sha(json.dumps(structure).encode())
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


def compare(before: dict, after: dict, structure_only=()) -> list[str]:
    """The differences, a line each; for keys of the sources in ``structure_only`` only the
    ``~structure`` digest counts (see the module docstring)."""
    lines = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a and b and key.split(":")[0] in structure_only and "~structure" in a and "~structure" in b:
            a, b = {"~structure": a["~structure"]}, {"~structure": b["~structure"]}
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
    ap.add_argument("--structure-only", default="", metavar="SOURCES",
                    help="with --compare: for these sources (e.g. tensorflow) compare only the order- and"
                         " name-free digest")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args(argv)
    if args.compare:
        with open(args.compare[0]) as f, open(args.compare[1]) as g:
            before, after = json.load(f), json.load(g)
        # a partial run (--match, --targets, --models) is compared on what it covers
        before = {k: v for k, v in before.items() if k in after}
        diffs = compare(before, after, tuple(s for s in args.structure_only.split(",") if s))
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
