"""Shared machinery for the ONNX conformance suites (node cases and light zoo models).

A case counts only when ONNX Runtime itself reproduces the expected outputs from the
original model; the others are reported as skipped with ONNX Runtime's reason.
"""

from __future__ import annotations

import functools
import glob
import os
import warnings
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort


@dataclass
class Case:
    name: str
    model: onnx.ModelProto
    data_sets: list  # [(inputs, expected outputs)]
    rtol: float = 1e-3
    atol: float = 1e-7


@functools.lru_cache(maxsize=None)
def node_cases() -> dict[str, Case]:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    return {c.name: Case(c.name, c.model, c.data_sets, c.rtol, c.atol) for c in cases}


def light_dir() -> str:
    import onnx.backend.test

    return os.path.join(os.path.dirname(onnx.backend.test.__file__), "data", "light")


def light_models() -> list[str]:
    return sorted(glob.glob(os.path.join(light_dir(), "light_*.onnx")))


def light_case(path: str) -> Case:
    model = onnx.load(path)
    expected = numpy_tensor(path.replace(".onnx", "_output_0.pb"))
    # the light models ship expected outputs only: their inputs are the fixed seed below
    return Case(os.path.basename(path)[:-5], model, [(light_inputs(model), [expected])], rtol=1e-3, atol=1e-5)


def numpy_tensor(path: str) -> np.ndarray:
    return onnx.numpy_helper.to_array(onnx.load_tensor(path))


def light_inputs(model: onnx.ModelProto) -> list[np.ndarray]:
    """The light models' documented input: ones of the input's shape (see onnx's backend test data)."""
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in model.graph.input}
    return [np.ones(shapes[name], dtype=np.float32) for name in feed_names(model)]


def session(model_or_path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 4
    data = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else model_or_path
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def feed_names(model: onnx.ModelProto) -> list[str]:
    """The inputs a caller feeds: declared graph inputs without an initializer."""
    inits = {t.name for t in model.graph.initializer}
    return [vi.name for vi in model.graph.input if vi.name not in inits]


def check_outputs(got, expected, rtol: float, atol: float) -> None:
    assert len(got) == len(expected), f"{len(got)} outputs, expected {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        compare(g, e, rtol, atol, f"output {i}")


def compare(got, exp, rtol, atol, where) -> None:
    if isinstance(exp, list):
        assert isinstance(got, list) and len(got) == len(exp), f"{where}: sequence length differs"
        for j, (g, e) in enumerate(zip(got, exp)):
            compare(g, e, rtol, atol, f"{where}[{j}]")
        return
    if exp is None:
        assert got is None, f"{where}: expected None"
        return
    exp = np.asarray(exp)
    got = np.asarray(got)
    assert got.shape == exp.shape, f"{where}: shape {got.shape} != {exp.shape}"
    if exp.dtype == object or exp.dtype.kind in "SU":
        assert [str(x) for x in got.reshape(-1)] == [str(x) for x in exp.reshape(-1)], f"{where}: strings differ"
        return
    if exp.dtype.kind in "fc" or "float" in str(exp.dtype):  # numpy floats and ml_dtypes (bfloat16, float8 ...)
        np.testing.assert_allclose(got.astype(np.float64) if exp.dtype.kind != "c" else got,
                                   exp.astype(np.float64) if exp.dtype.kind != "c" else exp,
                                   rtol=rtol, atol=atol, err_msg=where)
    else:
        np.testing.assert_array_equal(got, exp, err_msg=where)


def run_model(model_or_path, model: onnx.ModelProto, inputs) -> list:
    return session(model_or_path).run(None, dict(zip(feed_names(model), inputs)))


def ort_verdict(case: Case) -> str | None:
    """None when ONNX Runtime reproduces the case from the original model, else why not."""
    try:
        for inputs, expected in case.data_sets:
            check_outputs(run_model(case.model, case.model, inputs), expected, case.rtol, case.atol)
    except Exception as e:  # noqa: BLE001 - any failure means "ORT cannot run it"
        return f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    return None


def read_known_failures(path: str) -> dict[str, str]:
    """case name -> reason, from a known-failures file (``name  # reason`` per line)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition("#")
            out[name.strip()] = reason.strip()
    return out


@functools.lru_cache(maxsize=None)
def ort_runnable() -> tuple[str, ...]:
    """The node cases ONNX Runtime itself reproduces, by name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tuple(name for name, case in sorted(node_cases().items()) if ort_verdict(case) is None)


def representative(known: dict[str, str], every: int) -> set[str]:
    """The default run's subset of :func:`ort_runnable`: one case per op (the first by
    name), every ``every``-th case and every known failure (``-m slow`` runs them all)."""
    chosen, seen = set(), set()
    cases = node_cases()
    for k, name in enumerate(ort_runnable()):
        ops = {n.op_type for n in cases[name].model.graph.node} - {"Constant"}
        if ops - seen or k % every == 0:
            chosen.add(name)
            seen |= ops
    return chosen | set(known)


def case_params(known: dict[str, str], every: int):
    """pytest params for the ORT-runnable cases: known failures a strict xfail with their
    reason, the cases outside :func:`representative` marked slow."""
    import pytest

    subset = representative(known, every)
    for name in ort_runnable():
        marks = [pytest.mark.xfail(strict=True, reason=known[name])] if name in known else []
        if name not in subset:
            marks.append(pytest.mark.slow)
        yield pytest.param(name, marks=marks, id=name)
