"""The real models the optimizer benchmark (and the slow differential tests) run on, built from
small configs with random weights (nothing downloaded) and cached under
``benchmarks/_work/optimize/``:

- exported by ``torch.onnx.export`` (dynamo): ``transformers`` encoders (BERT, T5 encoder),
  decoders (GPT-2, Llama), ViT and conv nets (ResNet, ConvNeXt, MobileNetV2); plus BERT
  through the TorchScript exporter (opset 17), whose graphs look different;
- exported by tf2onnx 1.17 from a ``tf.function`` (the path the TensorFlow frontend takes):
  ``keras.applications`` ResNet50, MobileNetV2 and EfficientNetB0 (``weights=None``);
- the 9 light ONNX zoo models (``onnx.backend.test`` data).

Each export runs in its own process (torch and TensorFlow never share one).

    python benchmarks/optimize_models.py [--only NAME ...]   # builds what is missing, prints the paths
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, "benchmarks", "_work", "optimize")

TORCH_MODELS = ("bert", "bert_torchscript", "t5_encoder", "gpt2", "llama", "vit", "resnet", "convnext", "mobilenet_v2")
KERAS_MODELS = ("keras_resnet50", "keras_mobilenet_v2", "keras_efficientnet_b0")

_TORCH = r"""
import os, sys, json, warnings
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch, transformers as T
name, path = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
torch.set_num_threads(1)

def text(cfg_cls, model_cls, **kw):
    base = dict(vocab_size=1000, hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=512,
                max_position_embeddings=128)
    base.update(kw)
    return model_cls(cfg_cls(**base)), torch.randint(0, 1000, (1, 64))

def image(cfg, model_cls, size=64):
    return model_cls(cfg), torch.randn(1, 3, size, size)

builders = {
    "bert": lambda: text(T.BertConfig, T.BertModel),
    "bert_torchscript": lambda: text(T.BertConfig, T.BertModel),
    "t5_encoder": lambda: (T.T5EncoderModel(T.T5Config(vocab_size=1000, d_model=128, d_kv=32, d_ff=512, num_layers=2,
                                                       num_heads=4)), torch.randint(0, 1000, (1, 64))),
    "gpt2": lambda: (T.GPT2Model(T.GPT2Config(vocab_size=1000, n_embd=128, n_layer=2, n_head=4, n_positions=128)),
                     torch.randint(0, 1000, (1, 64))),
    "llama": lambda: text(T.LlamaConfig, T.LlamaModel, num_key_value_heads=2),
    "vit": lambda: image(T.ViTConfig(image_size=64, patch_size=8, hidden_size=128, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=512), T.ViTModel),
    "resnet": lambda: image(T.ResNetConfig(embedding_size=32, hidden_sizes=[32, 64, 128], depths=[1, 1, 1],
                                           layer_type="bottleneck"), T.ResNetModel),
    "convnext": lambda: image(T.ConvNextConfig(hidden_sizes=[32, 64], depths=[1, 1], num_stages=2), T.ConvNextModel),
    "mobilenet_v2": lambda: image(T.MobileNetV2Config(image_size=64, depth_multiplier=0.5), T.MobileNetV2Model),
}

class LastHidden(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
    def forward(self, x):
        return self.model(x).last_hidden_state

model, example = builders[name]()
module = LastHidden(model.eval()).eval()
with warnings.catch_warnings(), torch.no_grad():
    warnings.simplefilter("ignore")
    if name.endswith("_torchscript"):
        torch.onnx.export(module, (example,), path, dynamo=False, opset_version=17)
    else:
        try:
            torch.onnx.export(module, (example,), path, dynamo=True, verbose=False)
        except Exception:
            torch.onnx.export(module, (example,), path, dynamo=False, opset_version=17)
"""

_KERAS = r"""
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
np.product = np.prod  # tf2onnx 1.17 still calls the removed alias
np.cast = getattr(np, "cast", None) or (lambda x, dtype: np.asarray(x, dtype))
import tensorflow as tf
import keras
import tf2onnx
name, path = sys.argv[1], sys.argv[2]
keras.utils.set_random_seed(0)
apps = {"keras_resnet50": keras.applications.ResNet50, "keras_mobilenet_v2": keras.applications.MobileNetV2,
        "keras_efficientnet_b0": keras.applications.EfficientNetB0}
model = apps[name](weights=None, input_shape=(128, 128, 3))
spec = (tf.TensorSpec((1, 128, 128, 3), tf.float32, name="input"),)
fn = tf.function(lambda x: model(x, training=False), input_signature=spec)
tf2onnx.convert.from_function(fn, input_signature=spec, opset=17, output_path=path)
"""


def light_models() -> list[str]:
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import conformance

    return conformance.light_models()


def build(name: str, python: str = sys.executable) -> str | None:
    """The cached ONNX file of ``name`` (built when missing); None when the export failed."""
    if name.startswith("light_"):
        return next((p for p in light_models() if os.path.basename(p) == f"{name}.onnx"), None)
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"{name}.onnx")
    if os.path.exists(path):
        return path
    script = _KERAS if name.startswith("keras_") else _TORCH
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        out = os.path.join(tmp, f"{name}.onnx")
        r = subprocess.run([python, "-c", script, name, out], capture_output=True, text=True, timeout=1800,
                           env=dict(os.environ, PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES=""))
        if r.returncode != 0 or not os.path.exists(out):
            sys.stderr.write(f"{name}: export failed:\n{r.stderr[-3000:]}\n")
            return None
        import onnx

        onnx.save(onnx.load(out), path + ".partial")  # one file: external data (if any) inlined
        os.replace(path + ".partial", path)
    return path


def all_models() -> list[str]:
    return list(TORCH_MODELS) + list(KERAS_MODELS) + [os.path.basename(p)[:-5] for p in light_models()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    paths = {n: build(n) for n in (args.only or all_models())}
    print(json.dumps(paths, indent=2))


if __name__ == "__main__":
    main()
