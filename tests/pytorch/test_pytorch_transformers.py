"""Real architectures from ``transformers`` (small random-init configs, nothing downloaded):
PyTorch -> ONNX (torch.onnx.export) -> mmconvert -> PyTorch, matching ONNX Runtime.

The whole set takes about 30 s on 2 cores, so none is marked ``slow``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")

import conformance  # noqa: E402
from pytorch_harness import emit, run  # noqa: E402

ATOL = 1e-4


def _text(cfg, model):
    return lambda: (model(cfg), torch.randint(0, 100, (2, 8)))


def _image(cfg, model):
    return lambda: (model(cfg), torch.randn(2, 3, 32, 32))


def _small_text(cls, **extra):
    kw = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              max_position_embeddings=64)
    kw.update(extra)
    return cls(**kw)


def builders():
    return {
        "bert": _text(_small_text(T.BertConfig), T.BertModel),
        "gpt2": _text(T.GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64), T.GPT2Model),
        "roberta": _text(_small_text(T.RobertaConfig), T.RobertaModel),
        "distilbert": _text(T.DistilBertConfig(vocab_size=100, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
                                               max_position_embeddings=64), T.DistilBertModel),
        "albert": _text(_small_text(T.AlbertConfig, embedding_size=16), T.AlbertModel),
        "electra": _text(_small_text(T.ElectraConfig, embedding_size=16), T.ElectraModel),
        "mobilebert": _text(T.MobileBertConfig(vocab_size=100, hidden_size=32, embedding_size=16, intra_bottleneck_size=16,
                                               true_hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                                               intermediate_size=32, num_feedforward_networks=2,
                                               max_position_embeddings=64), T.MobileBertModel),
        "t5_encoder": _text(T.T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4),
                            T.T5EncoderModel),
        "llama": _text(_small_text(T.LlamaConfig, num_key_value_heads=2), T.LlamaModel),
        "vit": _image(T.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64), T.ViTModel),
        "resnet": _image(T.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic"),
                         T.ResNetModel),
        "convnext": _image(T.ConvNextConfig(hidden_sizes=[16, 32], depths=[1, 1], num_stages=2), T.ConvNextModel),
        "swin": _image(T.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 4],
                                    window_size=4), T.SwinModel),
    }


class LastHidden(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x).last_hidden_state


def build(name):
    torch.manual_seed(0)
    model, example = builders()[name]()
    return LastHidden(model.eval()).eval(), example


def export_onnx(module, example, path, dynamic_shapes=None):
    """torch.onnx.export (dynamo); the TorchScript exporter for models the dynamo path cannot take."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, (example,), path, dynamo=True, dynamic_shapes=dynamic_shapes, verbose=False)
        except Exception:  # noqa: BLE001 - e.g. Swin, T5 on torch 2.13
            torch.onnx.export(module, (example,), path, dynamo=False, opset_version=17)


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
        assert "F.silu(" in src and "torch.rsqrt(" in src
