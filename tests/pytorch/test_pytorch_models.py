"""The light ONNX zoo models through the PyTorch backend: numerics and torch.export."""

from __future__ import annotations

import os

import numpy as np
import pytest

import conformance
from pytorch_harness import emit, run, to_torch

torch = pytest.importorskip("torch")

LIGHT = conformance.light_models()


def test_all_light_models_present():
    assert len(LIGHT) == 9


@pytest.mark.parametrize("path", LIGHT, ids=[os.path.basename(p)[:-5] for p in LIGHT])
def test_light_model(path, tmp_path):
    case = conformance.light_case(path)
    model = emit(path, str(tmp_path / "out"))
    inputs, expected = case.data_sets[0]
    got = run(model, inputs)
    assert got[0].shape == expected[0].shape
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-3, atol=1e-4)
    exported = torch.export.export(model, tuple(to_torch(i) for i in inputs))
    again = exported.module()(*[to_torch(i) for i in inputs])
    np.testing.assert_allclose(again.detach().numpy(), expected[0], rtol=1e-3, atol=1e-4)
