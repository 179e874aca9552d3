"""ONNX -> IR -> ONNX round trip over the onnx package's own conformance cases."""

from __future__ import annotations

import os

import onnx
import pytest

import conformance as C
from mmconvert import ir
import mmconvert
from mmconvert.ir.passes.opset import downgrade

KNOWN = {}
with open(os.path.join(os.path.dirname(__file__), "known_failures_onnx.txt")) as f:
    for line in f:
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.rstrip("\n").partition("\t")
            KNOWN[name] = reason


def _params():
    for name in sorted(C.node_cases()):
        marks = [pytest.mark.xfail(reason=KNOWN[name], strict=True)] if name in KNOWN else []
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", list(_params()))
def test_node_case_roundtrip(name, tmp_path):
    case = C.node_cases()[name]
    why = C.ort_verdict(case)
    if why is not None:
        pytest.skip(f"ONNX Runtime does not run the original: {why}")
    out = tmp_path / "model.onnx"
    result = mmconvert.convert(case.model, out, to="onnx", validate=False)  # checked against the expected outputs below
    if _checker_accepts(case.model):  # test_mvn's original already trips onnx's own function inference
        onnx.checker.check_model(str(out), full_check=True)
    for inputs, expected in case.data_sets:
        C.check_outputs(C.run_model(str(out), case.model, inputs), expected, case.rtol, case.atol)
    source_opset = next((o.version for o in case.model.opset_import if o.domain in ("", "ai.onnx")), None)
    if source_opset and result.opset != source_opset:
        # only when some node has no form at the source opset (e.g. Scan-8 upgraded to per-item Scans)
        assert result.opset == ir.CANONICAL_OPSET
        with pytest.raises(ir.OpsetConversionError):
            downgrade(mmconvert.load(case.model), source_opset)


def _checker_accepts(model) -> bool:
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError:
        return False
    except onnx.shape_inference.InferenceError:
        return False
    return True


@pytest.mark.parametrize("path", C.light_models(), ids=lambda p: os.path.basename(p)[:-5])
@pytest.mark.parametrize("opset", [None, 28], ids=["source-opset", "canonical-opset"])
def test_light_model_roundtrip(path, opset, tmp_path):
    case = C.light_case(path)
    assert C.ort_verdict(case) is None, "ONNX Runtime runs every light model"
    out = tmp_path / "model.onnx"
    options = {} if opset is None else {"opset": opset}
    result = mmconvert.convert(path, out, to="onnx", validate=False, **options)
    assert result.opset == (opset or 9)
    onnx.checker.check_model(str(out), full_check=True)
    for inputs, expected in case.data_sets:
        C.check_outputs(C.run_model(str(out), case.model, inputs), expected, case.rtol, case.atol)


def test_known_failures_are_real_cases():
    assert set(KNOWN) <= set(C.node_cases())


def test_pass_rate_meets_the_bar():
    """>= 99.5% of the ORT-runnable node cases round-trip (the known failures are the rest)."""
    runnable = [n for n, c in C.node_cases().items() if C.ort_verdict(c) is None]
    assert len(runnable) > 1000
    assert 1 - len(set(KNOWN) & set(runnable)) / len(runnable) >= 0.995
