"""Run a parity check: reference (ONNX on ONNX Runtime) vs candidate artifact."""

from __future__ import annotations

import os
import time

import networkx as nx
import numpy as np

from mmconvert.ir.errors import InputError
from mmconvert.ir.graph import Graph
from mmconvert.ir.options import Option
from mmconvert.ir.sandbox import confined

from . import inputs as input_gen
from . import localize, metrics
from .report import OutputReport, ParityReport
from .runners import get_runner
from .runners.onnx_runner import Runner as OnnxRunner

# the parity step's options (name -> Option: what it does): the API refuses any other
OPTIONS = {
    "atol": Option("absolute tolerance for float outputs (default per dtype)"),
    "rtol": Option("relative tolerance for float outputs (default per dtype)"),
    "tolerances": Option("{output: (atol, rtol)} for single outputs"),
    "seed": Option("seed of the generated inputs (default 0)"),
    "samples": Option("number of generated input samples (default 2)"),
    "dims": Option("{symbolic dim: value} for the generated inputs"),
    "data": Option("inputs to use instead: an .npz, an ONNX test_data_set folder, or a list of samples"),
    "per_layer": Option("compare every intermediate tensor and name the first diverging node"),
    "mode": Option("per layer: accumulated (default) or isolated"),
}
RANDOM_OPS = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}


def random_outputs(graph: Graph) -> set[str]:
    """Graph outputs that depend on a random op (their values cannot be compared)."""
    seeds = {n.name for n in graph.nodes if n.op_type in RANDOM_OPS
             or (n.op_type == "Dropout" and len(n.inputs) > 2 and n.inputs[2] and _truthy(graph.constant(n.inputs[2]), True))}
    tainted = set()
    for s in seeds:
        tainted |= {s} | nx.descendants(graph.nx, s)
    return {t for name in tainted for t in graph.node(name).outputs if t in graph.outputs}


def _truthy(value, default: bool) -> bool:
    return default if value is None else bool(np.asarray(value).reshape(-1)[0])


def validate(reference, candidate: str, graph: Graph, *, target: str | None = None,
             atol: float | None = None, rtol: float | None = None, tolerances: dict | None = None,
             seed: int = 0, samples: int = 2, dims: dict | None = None, data: str | list | None = None,
             per_layer: bool = False, mode: str = "accumulated", workdir: str | None = None) -> ParityReport:
    """Compare ``candidate`` with ``reference`` on generated or given inputs.

    ``reference`` is an ONNX file (run on ONNX Runtime) or a runner of the source model
    in its own framework (any ``ir.runner.RunnerProtocol``: the one its frontend returned with
the graph, ``frontends.open_source``).  ``graph`` is the IR of
    the reference: it gives input roles, random outputs and the topological order for
    per-layer localization.

    The reference runs :func:`ir.sandbox.confined`: in ``workdir`` (a fresh folder, removed
    after; ``api.convert`` puts it in the output's staging area) with credential variables
    out of the environment.  Ops the conversion dropped (``graph.metadata["dropped_ops"]``,
    e.g. a trusted ``WriteFile`` no output depends on) are listed in the report.
    """
    if mode not in ("accumulated", "isolated"):
        raise InputError(f"per-layer mode must be 'accumulated' or 'isolated', not '{mode}'")
    timings: dict[str, float] = {}
    t = time.perf_counter()
    ref_runner = OnnxRunner(reference) if isinstance(reference, (str, os.PathLike)) else reference
    cand_runner = get_runner(candidate, target)
    timings["load"] = time.perf_counter() - t

    names = graph.real_inputs
    if set(ref_runner.input_names) != set(names):
        names = ref_runner.input_names
    cand_names = cand_runner.input_names or names
    if set(cand_names) != set(names):
        raise InputError(f"the candidate takes inputs {cand_names}, the reference {names}")

    t = time.perf_counter()
    dims_used: dict = dict(dims or {})
    if data is None:
        batches, specs, dims_used = input_gen.generate(graph, seed=seed, samples=samples, dims=dims)
        spec_dicts = [s.to_dict() for s in specs]
    else:
        batches = data if isinstance(data, list) else input_gen.load_data(data, names)
        spec_dicts = [_describe(n, a) for n, a in zip(names, batches[0])]
    timings["inputs"] = time.perf_counter() - t

    t = time.perf_counter()
    with confined(workdir):
        ref_outs = [ref_runner.run(b) for b in batches]
    timings["reference"] = time.perf_counter() - t
    t = time.perf_counter()
    order = [names.index(n) for n in cand_names]
    cand_outs = [cand_runner.run([b[i] for i in order]) for b in batches]
    timings["candidate"] = time.perf_counter() - t

    t = time.perf_counter()
    excluded = random_outputs(graph)
    out_names = ref_runner.output_names
    cand_out_names = cand_runner.output_names or out_names
    reports = []
    for k, name in enumerate(out_names):
        refs = [o[k] for o in ref_outs]
        # outputs are paired by name; a candidate that names none is read in the reference's order
        j = cand_out_names.index(name) if name in cand_out_names else (k if not cand_runner.output_names else None)
        if j is None:
            reports.append(OutputReport(name, "error", message=f"the candidate has no output named '{name}'"))
            continue
        if any(len(o) <= j for o in cand_outs):
            reports.append(OutputReport(name, "error", message="the candidate returned fewer outputs"))
            continue
        cands = [o[j] for o in cand_outs]
        reports.append(_compare_output(name, refs, cands, excluded, atol, rtol, (tolerances or {}).get(name)))
    timings["compare"] = time.perf_counter() - t

    report = ParityReport(reference=str(ref_runner.path), candidate=str(candidate),
                          target=cand_runner.target, reference_runner=ref_runner.target if ref_runner.target != "onnx"
                          else "onnxruntime",
                          status="pass" if all(r.status in ("pass", "excluded") for r in reports) else "fail",
                          outputs=reports, samples=len(batches), seed=seed, inputs=spec_dicts,
                          dims={k: int(v) for k, v in dims_used.items()}, timings=timings,
                          dropped=[dict(d) for d in graph.metadata.get("dropped_ops") or []])
    if per_layer:
        t = time.perf_counter()
        tensors = [o for n in graph.nodes for o in n.outputs if o]
        first_inputs = batches[0]
        with confined(workdir):
            ref_vals = ref_runner.capture(first_inputs, tensors)
        for n, a in zip(names, first_inputs):
            ref_vals[n] = a
        cand_vals = cand_runner.capture([first_inputs[i] for i in order], tensors,
                                        reference=ref_vals if mode == "isolated" else None)
        a, r = _layer_tolerance(atol, rtol)
        report.layers, report.first_divergent = localize.layers(graph, ref_vals, cand_vals, a, r,
                                                                cand_runner.layouts)
        report.per_layer_mode = mode
        timings["per_layer"] = time.perf_counter() - t
    return report


def _describe(name: str, value) -> dict:
    if isinstance(value, list):
        return {"name": name, "dtype": "sequence", "shape": [len(value)], "role": "data"}
    if value is None:
        return {"name": name, "dtype": "optional", "shape": [], "role": "data"}
    arr = np.asarray(value)
    return {"name": name, "dtype": metrics.dtype_name(arr), "shape": list(arr.shape), "role": "data"}


def _layer_tolerance(atol, rtol) -> tuple[float, float]:
    d_atol, d_rtol = metrics.DEFAULT_FLOAT
    return (d_atol if atol is None else atol, d_rtol if rtol is None else rtol)


def _flatten(values: list) -> list:
    out = []
    for v in values:
        if isinstance(v, list):
            out.extend(_flatten(v))
        else:
            out.append(v)
    return out


def _compare_output(name, refs, cands, excluded, atol, rtol, override) -> OutputReport:
    if name in excluded:
        return OutputReport(name, "excluded", message="depends on a random op")
    if any(isinstance(r, list) for r in refs):  # sequences: element by element
        for r, c in zip(refs, cands):
            if not isinstance(c, list) or len(c) != len(r):
                return OutputReport(name, "fail", message="sequence length differs")
        refs, cands = _flatten(refs), _flatten(cands)
        if not refs:
            return OutputReport(name, "pass", message="empty sequences")
    if any(r is None for r in refs) or any(c is None for c in cands):
        same = all((r is None) == (c is None) for r, c in zip(refs, cands))
        return OutputReport(name, "pass" if same else "fail", message="optional: empty" if same else "optional presence differs")
    refs = [np.asarray(r) for r in refs]
    cands = [np.asarray(c) for c in cands]
    dtype = metrics.dtype_name(refs[0])
    p_atol, p_rtol = override or metrics.tolerance_for(dtype)
    if not metrics.is_exact(dtype):
        p_atol = p_atol if atol is None else atol
        p_rtol = p_rtol if rtol is None else rtol
    m = metrics.compare(refs, cands, p_atol, p_rtol)
    fields = {k: v for k, v in m.items() if k in OutputReport.__dataclass_fields__}
    return OutputReport(name=name, **fields)
