"""Real architectures shared by the backend test suites and benchmarks.

- ``transformers`` models from small random-init configs (nothing downloaded), exported
  to ONNX with torch.onnx (:func:`build`, :func:`export_onnx`);
- ``keras.applications`` models with ``weights=None``, exported to ONNX with tf2onnx
  (:func:`keras_model`, :func:`keras_to_onnx`).
"""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")


# ----------------------------------------------------------------- transformers (torch.onnx)
def _text(cfg, model):
    import torch

    return lambda: (model(cfg), torch.randint(0, 100, (2, 8)))


def _image(cfg, model):
    import torch

    return lambda: (model(cfg), torch.randn(2, 3, 32, 32))


def _small_text(cls, **extra):
    kw = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              max_position_embeddings=64)
    kw.update(extra)
    return cls(**kw)


def builders():
    import transformers as T

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


def build(name):
    """(module returning the last hidden state, example input) for a transformers architecture."""
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x).last_hidden_state

    torch.manual_seed(0)
    model, example = builders()[name]()
    return LastHidden(model.eval()).eval(), example


def export_onnx(module, example, path, dynamic_shapes=None):
    """torch.onnx.export (dynamo); the TorchScript exporter for models the dynamo path cannot take."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, (example,), path, dynamo=True, dynamic_shapes=dynamic_shapes, verbose=False)
        except Exception:  # noqa: BLE001 - e.g. Swin, T5 on torch 2.13
            torch.onnx.export(module, (example,), path, dynamo=False, opset_version=17)


# ----------------------------------------------------------------- keras.applications (tf2onnx)
KERAS = ("ResNet50", "MobileNetV2", "DenseNet121", "EfficientNetB0", "InceptionV3", "Xception", "VGG16",
         "MobileNetV3Small", "NASNetMobile", "MobileNet")


def keras_model(name: str, size: int = 96):
    """A keras.applications model with random weights and logits out (no softmax)."""
    import keras

    keras.utils.set_random_seed(0)
    size = max(size, 139) if name in ("InceptionV3", "Xception") else size
    return getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3), classifier_activation=None)


def keras_to_onnx(model, path: str, opset: int = 17) -> str:
    """tf2onnx.convert.from_keras with a dynamic batch, each input of its own dtype (one input
    is named ``input``); writes ``path``."""
    import numpy as np
    import onnx
    import tensorflow as tf

    if not hasattr(np, "product"):
        np.product = np.prod  # tf2onnx 1.17 still calls np.product (removed in numpy 2)
    import tf2onnx

    single = len(model.inputs) == 1
    spec = tuple(tf.TensorSpec((None, *t.shape[1:]), t.dtype, name="input" if single else t.name)
                 for t in model.inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    onnx.save(proto, path)
    return path
