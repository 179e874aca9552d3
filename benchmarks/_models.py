"""Models built from well-known blocks for the conversion matrix (``zoo.py``), random weights.

PyTorch: an LSTM tagger, a small U-Net, a depthwise-separable mobile net and a
Transformer decoder with a causal mask.  Keras: the same four.  Each builder returns the
model in inference mode with seeded random weights (biases, norms and running statistics
too, by the test suites' ``randomize`` helpers), and its inputs are made by
``inputs(batch, seed)`` as a dict keyed by input name.
"""

from __future__ import annotations

import numpy as np

VOCAB = 100
SEQ = 12
IMAGE = 64


# ----------------------------------------------------------------------------- PyTorch
def _torch_modules():
    import torch
    from torch import nn
    import torch.nn.functional as F

    class LSTMTagger(nn.Module):
        """Embedding -> bidirectional LSTM -> per-token tag logits."""

        def __init__(self, vocab=VOCAB, dim=16, hidden=24, tags=5):
            super().__init__()
            self.embedding = nn.Embedding(vocab, dim)
            self.lstm = nn.LSTM(dim, hidden, num_layers=1, batch_first=True, bidirectional=True)
            self.tagger = nn.Linear(2 * hidden, tags)

        def forward(self, tokens):
            h, _ = self.lstm(self.embedding(tokens))
            return self.tagger(h)

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())

    class UNet(nn.Module):
        """Two down steps, a bottleneck, two up steps with skip connections (concat), 1x1 head."""

        def __init__(self, cin=3, width=8, classes=2):
            super().__init__()
            self.down1, self.down2 = block(cin, width), block(width, 2 * width)
            self.bottleneck = block(2 * width, 4 * width)
            self.up2 = nn.ConvTranspose2d(4 * width, 2 * width, 2, stride=2)
            self.dec2 = block(4 * width, 2 * width)
            self.up1 = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
            self.dec1 = block(2 * width, width)
            self.head = nn.Conv2d(width, classes, 1)

        def forward(self, image):
            d1 = self.down1(image)
            d2 = self.down2(F.max_pool2d(d1, 2))
            b = self.bottleneck(F.max_pool2d(d2, 2))
            u2 = self.dec2(torch.cat([self.up2(b), d2], 1))
            u1 = self.dec1(torch.cat([self.up1(u2), d1], 1))
            return self.head(u1)

    def separable(cin, cout, stride):
        return nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                             nn.ReLU6(), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6())

    class MobileNet(nn.Module):
        """MobileNet-v1 style: a strided stem, depthwise-separable blocks, pooled logits."""

        def __init__(self, classes=10):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
            self.blocks = nn.Sequential(separable(16, 32, 1), separable(32, 64, 2), separable(64, 64, 1),
                                        separable(64, 128, 2))
            self.classifier = nn.Linear(128, classes)

        def forward(self, image):
            x = self.blocks(self.stem(image))
            return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    class DecoderBlock(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim)
            self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.norm2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

        def forward(self, x, mask):
            h = self.norm1(x)
            x = x + self.attention(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.mlp(self.norm2(x))

    class TransformerDecoder(nn.Module):
        """GPT-style decoder: token + learned position embeddings, pre-norm blocks whose
        self-attention sees only earlier positions (a causal mask), LM head."""

        def __init__(self, vocab=VOCAB, dim=32, heads=4, layers=2, length=64):
            super().__init__()
            self.tokens = nn.Embedding(vocab, dim)
            self.positions = nn.Embedding(length, dim)
            self.blocks = nn.ModuleList(DecoderBlock(dim, heads) for _ in range(layers))
            self.norm = nn.LayerNorm(dim)
            self.lm_head = nn.Linear(dim, vocab)

        def forward(self, tokens):
            seq = tokens.shape[1]
            x = self.tokens(tokens) + self.positions(torch.arange(seq, device=tokens.device))
            mask = torch.triu(torch.full((seq, seq), float("-inf")), diagonal=1)
            for blk in self.blocks:
                x = blk(x, mask)
            return self.lm_head(self.norm(x))

    return {"lstm_tagger": LSTMTagger, "unet": UNet, "mobilenet_dw": MobileNet,
            "transformer_decoder": TransformerDecoder}


def _token_inputs(name):
    def make(batch, seed):
        return {name: np.random.default_rng(seed).integers(0, VOCAB, (batch, SEQ)).astype(np.int64)}
    return make


def _image_inputs(name, channels_last=False):
    def make(batch, seed):
        shape = (batch, IMAGE, IMAGE, 3) if channels_last else (batch, 3, IMAGE, IMAGE)
        return {name: np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}
    return make


TORCH_INPUTS = {"lstm_tagger": _token_inputs("tokens"), "unet": _image_inputs("image"),
                "mobilenet_dw": _image_inputs("image"), "transformer_decoder": _token_inputs("tokens")}


def torch_model(name: str):
    """(module in eval mode, inputs(batch, seed) -> {name: array}, dynamic dims {input: {axis: name}})."""
    import torch

    import pytorch_zoo

    torch.manual_seed(0)
    model = _torch_modules()[name]().eval()
    pytorch_zoo.randomize(model)
    make = TORCH_INPUTS[name]
    return model, make, {k: {0: "batch"} for k in make(1, 0)}


# ----------------------------------------------------------------------------- Keras
def _keras_lstm_tagger():
    import keras
    from keras import layers

    tokens = keras.Input((SEQ,), dtype="int32", name="tokens")
    x = layers.Embedding(VOCAB, 16, name="embedding")(tokens)
    x = layers.Bidirectional(layers.LSTM(24, return_sequences=True), name="bilstm")(x)
    out = layers.Dense(5, name="tagger")(x)
    return keras.Model(tokens, out, name="lstm_tagger")


def _keras_unet():
    import keras
    from keras import layers

    def block(x, width, name):
        for i in (1, 2):
            x = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv{i}")(x)
            x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
            x = layers.ReLU(name=f"{name}_relu{i}")(x)
        return x

    image = keras.Input((IMAGE, IMAGE, 3), name="image")
    d1 = block(image, 8, "down1")
    d2 = block(layers.MaxPooling2D(name="pool1")(d1), 16, "down2")
    b = block(layers.MaxPooling2D(name="pool2")(d2), 32, "bottleneck")
    u2 = layers.Conv2DTranspose(16, 2, strides=2, name="up2")(b)
    u2 = block(layers.Concatenate(name="skip2")([u2, d2]), 16, "dec2")
    u1 = layers.Conv2DTranspose(8, 2, strides=2, name="up1")(u2)
    u1 = block(layers.Concatenate(name="skip1")([u1, d1]), 8, "dec1")
    out = layers.Conv2D(2, 1, name="head")(u1)
    return keras.Model(image, out, name="unet")


def _keras_mobilenet_dw():
    import keras
    from keras import layers

    image = keras.Input((IMAGE, IMAGE, 3), name="image")
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(image)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    for i, (width, stride) in enumerate([(32, 1), (64, 2), (64, 1), (128, 2)]):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"dw{i}")(x)
        x = layers.BatchNormalization(name=f"dw{i}_bn")(x)
        x = layers.ReLU(6.0, name=f"dw{i}_relu")(x)
        x = layers.Conv2D(width, 1, use_bias=False, name=f"pw{i}")(x)
        x = layers.BatchNormalization(name=f"pw{i}_bn")(x)
        x = layers.ReLU(6.0, name=f"pw{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = layers.Dense(10, name="classifier")(x)
    return keras.Model(image, out, name="mobilenet_dw")


def _keras_transformer_decoder(dim: int = 32, layers_: int = 2):
    import keras
    from keras import layers

    import keras_models

    tokens = keras.Input((SEQ,), dtype="int32", name="tokens")
    x = layers.Embedding(VOCAB, dim, name="token_embedding")(tokens)
    x = keras_models._position_embedding()(SEQ, dim, name="position_embedding")(x)
    for i in range(layers_):
        h = layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_norm1")(x)
        h = layers.MultiHeadAttention(num_heads=4, key_dim=dim // 4, name=f"block{i}_attention")(
            query=h, value=h, use_causal_mask=True)
        x = layers.Add(name=f"block{i}_residual1")([x, h])
        h = layers.LayerNormalization(epsilon=1e-5, name=f"block{i}_norm2")(x)
        h = layers.Dense(4 * dim, activation="gelu", name=f"block{i}_mlp_in")(h)
        h = layers.Dense(dim, name=f"block{i}_mlp_out")(h)
        x = layers.Add(name=f"block{i}_residual2")([x, h])
    x = layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    out = layers.Dense(VOCAB, name="lm_head")(x)
    return keras.Model(tokens, out, name="transformer_decoder")


KERAS = {"lstm_tagger": _keras_lstm_tagger, "unet": _keras_unet, "mobilenet_dw": _keras_mobilenet_dw,
         "transformer_decoder": _keras_transformer_decoder}


def keras_model(name: str):
    """A built Keras model with seeded random weights (``keras_models.randomize``)."""
    import keras

    import keras_models

    keras.utils.set_random_seed(0)
    return keras_models.randomize(KERAS[name]())


# ----------------------------------------------------------------------------- ONNX
def light_model(path: str, work: str) -> str:
    """The onnx package's light zoo model at ``path`` with seeded random weights, written once
    under ``work``.  The light files keep each weight as a ``ConstantOfShape`` of one value,
    so every model would compute a constant (squeezenet's output is 0.001 everywhere); here
    each such weight becomes an initializer drawn by the role its consumer gives it: He-normal
    Conv / Gemm / MatMul weights, small biases and BatchNorm shifts and means, BatchNorm scales
    and variances in [0.5, 1.5].  Anything else keeps its value."""
    import os

    import onnx
    from onnx import numpy_helper

    import _peers

    out = os.path.join(work, os.path.basename(path).replace(".onnx", ".random.onnx"))
    if os.path.exists(out):
        return out
    base = _peers.materialize(path, work)
    model = onnx.load(base)
    roles = {}
    for node in model.graph.node:
        for slot, name in enumerate(node.input):
            roles.setdefault(name, (node.op_type, slot))
    rng = np.random.default_rng(0)
    for i, t in enumerate(model.graph.initializer):
        value = numpy_helper.to_array(t)
        if value.size < 2 or value.dtype != np.float32 or np.unique(value).size > 1:
            continue
        op, slot = roles.get(t.name, ("", -1))
        if op in ("Conv", "ConvTranspose", "Gemm", "MatMul") and slot == 1:
            fan_in = int(np.prod(value.shape[1:])) if op != "MatMul" else value.shape[0]
            new = rng.standard_normal(value.shape) * np.sqrt(2.0 / max(fan_in, 1))
        elif (op in ("Conv", "ConvTranspose", "Gemm") and slot == 2) or (op == "BatchNormalization" and slot in (2, 3)):
            new = rng.standard_normal(value.shape) * 0.1
        elif op == "BatchNormalization" and slot in (1, 4):
            new = rng.uniform(0.5, 1.5, value.shape)
        else:
            continue
        model.graph.initializer[i].CopyFrom(numpy_helper.from_array(new.astype(np.float32), t.name))
    _measure_batchnorm(model)
    tmp = out + ".tmp"
    onnx.save(model, tmp)  # the largest, vgg19, is 0.55 GB: one file
    os.replace(tmp, out)
    return out


def _measure_batchnorm(model) -> None:
    """BatchNorm means and variances set to what their inputs show on a seeded random input
    (the second moment for the variance, as ``keras_models.randomize`` does), level by level
    so that each sees the statistics the earlier ones leave: with made-up statistics a
    residual network's activations grow at every block until its softmax ends one-hot, where
    any conversion matches by construction."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    inits = {t.name: i for i, t in enumerate(model.graph.initializer)}
    data = next(i for i in model.graph.input if i.name not in inits)
    x = np.random.default_rng(1).standard_normal([d.dim_value or 1 for d in data.type.tensor_type.shape.dim])
    depth: dict[str, int] = {}  # tensor -> BatchNorms on the longest path to it
    levels: dict[int, list] = {}
    for n in model.graph.node:  # the light files are in topological order
        d = max((depth.get(i, 0) for i in n.input), default=0)
        if n.op_type == "BatchNormalization":
            levels.setdefault(d, []).append(n)
            d += 1
        for o in n.output:
            depth[o] = d
    options = ort.SessionOptions()
    options.log_severity_level = 3
    for level in sorted(levels):
        norms = levels[level]
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        del probe.graph.output[:]
        probe.graph.output.extend(onnx.ValueInfoProto(name=n.input[0]) for n in norms)
        sess = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
        for n, v in zip(norms, sess.run(None, {data.name: x.astype(np.float32)})):
            v = v.astype(np.float64)
            axes = tuple(i for i in range(v.ndim) if i != 1)
            mean, second = v.mean(axis=axes), (v * v).mean(axis=axes)
            for name, arr in ((n.input[3], mean), (n.input[4], second + 1e-3)):
                model.graph.initializer[inits[name]].CopyFrom(numpy_helper.from_array(arr.astype(np.float32), name))
