"""ONNX node conformance cases through the TensorFlow backend.

Every case ONNX Runtime itself reproduces is converted, and the emitted model must
reproduce it too (with the case's rtol/atol), except the cases listed with a reason in
tests/known_failures_tensorflow.txt; a listed case that passes fails the suite (strict
xfail), so the list stays honest.

TensorFlow traces a ``tf.function`` per case, so the whole suite takes about four minutes
on 2 cores: the default run takes a representative subset (one case per op, every known
failure, and every eighth case), ``-m slow`` runs all of them, and
``benchmarks/support_matrix.py --targets tensorflow`` writes the full table (docs/op-support.md).
"""

from __future__ import annotations

import warnings

import pytest

import conformance
from tf_harness import known_failures, run_node_case

pytest.importorskip("tensorflow")

MIN_PASS_RATE = 0.90


# the default run: one case per op, every known failure and every EVERY-th case
EVERY = 8


@pytest.mark.parametrize("name", list(conformance.case_params(known_failures(), EVERY)))
def test_node_case(name, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_node_case(conformance.node_cases()[name], str(tmp_path / "out"))


def test_known_failures_are_ort_runnable_cases_with_reasons():
    known = known_failures()
    runnable = set(conformance.ort_runnable())
    stale = sorted(set(known) - runnable)
    assert not stale, f"listed cases that are not ORT-runnable node cases: {stale}"
    assert all(known.values()), "every known failure needs a reason"


def test_pass_rate():
    total = len(conformance.ort_runnable())
    failing = len(known_failures())
    assert total > 1000
    assert (total - failing) / total >= MIN_PASS_RATE, f"{total - failing}/{total} pass"
