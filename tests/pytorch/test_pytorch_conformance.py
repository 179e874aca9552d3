"""ONNX node conformance cases through the PyTorch backend.

Every case ONNX Runtime itself reproduces is converted, and the emitted module must
reproduce it too (with the case's rtol/atol), except the cases listed with a reason
in tests/known_failures_pytorch.txt; a listed case that passes fails the suite (strict
xfail), so the list stays honest.
"""

from __future__ import annotations

import functools
import warnings

import pytest

import conformance
from pytorch_harness import known_failures, run_node_case

pytest.importorskip("torch")

MIN_PASS_RATE = 0.95


@functools.lru_cache(maxsize=None)
def ort_runnable() -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [name for name, case in sorted(conformance.node_cases().items()) if conformance.ort_verdict(case) is None]


def _params():
    known = known_failures()
    for name in ort_runnable():
        marks = [pytest.mark.xfail(strict=True, reason=known[name])] if name in known else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", list(_params()))
def test_node_case(name, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_node_case(conformance.node_cases()[name], str(tmp_path / "out"))


def test_known_failures_are_ort_runnable_cases_with_reasons():
    known = known_failures()
    runnable = set(ort_runnable())
    stale = sorted(set(known) - runnable)
    assert not stale, f"listed cases that are not ORT-runnable node cases: {stale}"
    assert all(known.values()), "every known failure needs a reason"


def test_pass_rate():
    total = len(ort_runnable())
    failing = len(known_failures())
    assert total > 1000
    assert (total - failing) / total >= MIN_PASS_RATE, f"{total - failing}/{total} pass"
