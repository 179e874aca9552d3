"""Fuzzing: mutated models fed to load / inspect / convert (see tests/security/fuzzing.py).

Hypothesis drives the choices (seeded, no example database), 1,000 inputs by default
(``MMCONVERT_FUZZ_EXAMPLES`` changes it); ``benchmarks/fuzz.py`` is the long mode.
"""

from __future__ import annotations

import os
import warnings

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import fuzzing  # noqa: E402

EXAMPLES = int(os.environ.get("MMCONVERT_FUZZ_EXAMPLES", "1000"))
_SEEDS = []
_CTX = {}


def _setup(tmp_root):
    if not _SEEDS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _SEEDS.extend(fuzzing.seeds())
        _CTX.update(fuzzing.prepare(str(tmp_root)))
    return _SEEDS, _CTX


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    return _setup(tmp_path_factory.mktemp("fuzz"))


def test_mutated_models_give_typed_errors_or_correct_artifacts(sandbox):
    seeds, ctx = sandbox
    actions = fuzzing.available_actions()
    findings = []

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.randoms(use_true_random=False))
    def case(rng):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c, outcome = fuzzing.one_case(rng, seeds, ctx, actions)
        if not outcome.ok:
            findings.append((c, outcome))
        assert outcome.ok, f"{outcome.kind}: {outcome.detail} | seed {c.seed_name}, {c.action}, {c.mutations}"

    case()
