"""Real architectures from ``transformers`` (small random-init configs, nothing downloaded):
PyTorch -> ONNX (torch.onnx.export) -> mmconvert -> PyTorch, matching ONNX Runtime.

The whole set takes about 30 s on 2 cores, so none is marked ``slow``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")

import conformance  # noqa: E402
from pytorch_harness import emit, run  # noqa: E402
from real_models import build, export_onnx  # noqa: E402

ATOL = 1e-4


def check(name, tmp_path, dynamic=False):
    import onnx

    module, example = build(name)
    path = str(tmp_path / f"{name}.onnx")
    dyn = None
    if dynamic:
        dyn = ({0: torch.export.Dim("batch", max=32), 1: torch.export.Dim("seq", max=63)},)
    export_onnx(module, example, path, dyn)
    proto = onnx.load(path)
    converted = emit(path, str(tmp_path / "pt"))
    feeds = [example.numpy()]
    if dynamic:
        feeds.append(np.random.default_rng(1).integers(0, 100, (3, 5)))
    for x in feeds:
        ref = conformance.run_model(path, proto, [x])[0]
        got = run(converted, [x])[0]
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=ATOL)
    with torch.no_grad():
        np.testing.assert_allclose(got if not dynamic else run(converted, [feeds[0]])[0],
                                   module(example).numpy(), rtol=1e-3, atol=ATOL)
    exported = torch.export.export(converted, (example,))
    np.testing.assert_allclose(exported.module()(example).detach().numpy(), run(converted, [feeds[0]])[0],
                               rtol=1e-5, atol=1e-6)
    return converted


def test_bert_dynamic_batch_and_sequence(tmp_path):
    check("bert", tmp_path, dynamic=True)
    src = (tmp_path / "pt" / "model.py").read_text()
    assert ".shape" in src  # batch and sequence come from the input
    # the exporter's decomposed attention is written back as one call, layers as modules
    assert "F.scaled_dot_product_attention(" in src and "nn.Linear(32, 32)" in src and "nn.LayerNorm(32" in src


def test_resnet(tmp_path):
    model = check("resnet", tmp_path)
    assert any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


OTHERS = ["gpt2", "roberta", "distilbert", "albert", "electra", "mobilebert", "t5_encoder", "llama", "vit", "convnext",
        "swin"]


@pytest.mark.parametrize("name", OTHERS)
def test_architecture(name, tmp_path):
    check(name, tmp_path)
    if name == "llama":
        src = (tmp_path / "pt" / "model.py").read_text()
        assert "F.silu(" in src and "F.rms_norm(" in src  # the optimizer's fusions (on by default)
