"""Real architectures from ``transformers``, built from small configs with random weights
(nothing is downloaded), for the PyTorch frontend's tests and benchmark.

``build(name)`` -> (module in eval mode, example inputs as keyword arguments, dynamic dims
as names ``{input: {axis: name}}``, and a function making inputs for other sizes).  Every
model returns its own output structure (``ModelOutput``): the frontend names the graph's
outputs after its fields.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

VOCAB = 100


def _text(cls, cfg, *, decoder=False, mask=True):
    def make(torch, batch=2, seq=16, seed=0):
        g = torch.Generator().manual_seed(seed)
        feeds = {"input_ids": torch.randint(0, VOCAB, (batch, seq), generator=g)}
        if mask:
            m = torch.ones(batch, seq, dtype=torch.int64)
            if seed:  # other sizes: pad the end of the second row
                m[-1, seq // 2:] = 0
            feeds["attention_mask"] = m
        if decoder:
            feeds["decoder_input_ids"] = torch.randint(0, VOCAB, (batch, max(seq // 2, 1)), generator=g)
        return feeds

    dyn = {"input_ids": {0: "batch", 1: "seq"}}
    if mask:
        dyn["attention_mask"] = {0: "batch", 1: "seq"}
    if decoder:
        dyn["decoder_input_ids"] = {0: "batch", 1: "target"}
    return cls, cfg, make, dyn


def _image(cls, cfg, size=32, channels=3):
    def make(torch, batch=2, seq=None, seed=0):
        g = torch.Generator().manual_seed(seed)
        return {"pixel_values": torch.randn(batch, channels, size, size, generator=g)}

    return cls, cfg, make, {"pixel_values": {0: "batch"}}


def specs():
    import transformers as T

    small = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                 max_position_embeddings=64)
    return {
        "bert": _text(T.BertModel, T.BertConfig(**small)),
        "gpt2": _text(T.GPT2Model, T.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                               use_cache=False)),
        "t5": _text(T.T5Model, T.T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                                         use_cache=False, decoder_start_token_id=0), decoder=True),
        "llama": _text(T.LlamaModel, T.LlamaConfig(**small, num_key_value_heads=2, use_cache=False)),
        "qwen2": _text(T.Qwen2Model, T.Qwen2Config(**small, num_key_value_heads=2, use_cache=False)),
        "roberta": _text(T.RobertaModel, T.RobertaConfig(**{**small, "max_position_embeddings": 66})),
        "distilbert": _text(T.DistilBertModel, T.DistilBertConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4,
                                                                  hidden_dim=64, max_position_embeddings=64)),
        "albert": _text(T.AlbertModel, T.AlbertConfig(**small, embedding_size=16)),
        "electra": _text(T.ElectraModel, T.ElectraConfig(**small, embedding_size=16)),
        "bart": _text(T.BartModel, T.BartConfig(vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
                                               encoder_attention_heads=4, decoder_attention_heads=4,
                                               encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                                               use_cache=False), decoder=True),
        "vit": _image(T.ViTModel, T.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                              num_attention_heads=4, intermediate_size=64)),
        "swin": _image(T.SwinModel, T.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[2, 2],
                                                 num_heads=[2, 4], window_size=4)),
        "convnext": _image(T.ConvNextModel, T.ConvNextConfig(hidden_sizes=[16, 32], depths=[1, 1], num_stages=2)),
        "resnet": _image(T.ResNetModel, T.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1],
                                                       layer_type="bottleneck")),
        "mobilenet_v2": _image(T.MobileNetV2Model, T.MobileNetV2Config(image_size=32, depth_multiplier=0.35)),
        "deit": _image(T.DeiTModel, T.DeiTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                                 num_attention_heads=4, intermediate_size=64)),
    }


NAMES = ["bert", "gpt2", "t5", "llama", "qwen2", "roberta", "distilbert", "albert", "electra", "bart", "vit", "swin",
         "convnext", "resnet", "mobilenet_v2", "deit"]


def build(name: str):
    """(module, example kwargs, dynamic dims by name, make(batch, seq, seed) -> kwargs)."""
    import torch

    cls, cfg, make, dyn = specs()[name]
    torch.manual_seed(0)
    model = cls(cfg).eval()
    randomize(model)
    return model, make(torch), dyn, lambda batch=2, seq=16, seed=1: make(torch, batch, seq, seed)


def randomize(model) -> None:
    """Random norms, running statistics and biases too (a fresh model has ones and zeros there:
    equal tensors would let a wrong name or a swapped operand go unnoticed)."""
    import torch

    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if not t.is_floating_point() or t.dim() > 1:
                continue
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("running_var",) or leaf == "weight":
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif leaf in ("bias", "running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)


def flat_outputs(out) -> list:
    """The tensors a module returned, in the order the frontend's graph outputs come."""
    import torch
    from torch.utils import _pytree as pytree

    return [v for v in pytree.tree_leaves(out) if isinstance(v, torch.Tensor)]
