"""Keras models for the TensorFlow frontend's tests and benchmark, built with random weights.

``APPLICATIONS`` are ``keras.applications`` constructors (``weights=None``, logits out);
``SMALL`` are models built here: a CNN, an LSTM/GRU sequence model, a Transformer encoder
with MultiHeadAttention and an Embedding + Conv1D text model.  :func:`randomize` gives
BatchNorm statistics and biases seeded random values, so that a conversion that drops or
mixes them up cannot pass parity by accident (fresh Keras models have zeros and ones there).
"""

from __future__ import annotations

import numpy as np

# name -> (constructor name, keyword arguments); each with logits out and a modest input size
APPLICATIONS = {
    "ResNet50": ("ResNet50", {}),
    "MobileNetV2": ("MobileNetV2", {}),
    "MobileNetV3Small": ("MobileNetV3Small", {"input_shape": (224, 224, 3)}),
    "EfficientNetB0": ("EfficientNetB0", {}),
    "DenseNet121": ("DenseNet121", {}),
    "InceptionV3": ("InceptionV3", {}),
    "Xception": ("Xception", {}),
    "ConvNeXtTiny": ("ConvNeXtTiny", {}),
    "NASNetMobile": ("NASNetMobile", {}),
    "VGG16": ("VGG16", {}),
    "ResNet50V2": ("ResNet50V2", {}),
    "EfficientNetV2B0": ("EfficientNetV2B0", {}),
}


def application(name: str, seed: int = 0, **overrides):
    import keras

    keras.utils.set_random_seed(seed)  # the kernels' initializers
    ctor, kwargs = APPLICATIONS[name]
    kwargs = dict(kwargs, weights=None, **overrides)
    try:
        model = getattr(keras.applications, ctor)(classifier_activation=None, **kwargs)
    except TypeError:  # constructors without classifier_activation
        model = getattr(keras.applications, ctor)(**kwargs)
    return randomize(model, seed)


def randomize(model, seed: int = 0):
    """Seeded random BatchNorm gammas and betas and biases, then BatchNorm statistics measured
    on a seeded random batch (as training would leave them; the second moment for the
    variance), in place; returns the model.

    A fresh Keras model has zeros and ones there, so a conversion that drops or mixes them up
    would pass parity by accident; and statistics that match the activations keep them of
    order one through deep networks, as in a trained model (with made-up statistics a random
    EfficientNetV2 reaches logits of ~1e3, where float32 rounding alone exceeds atol 1e-4)."""
    import keras

    rng = np.random.default_rng(seed)
    norms = []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            norms.append(layer)
    for w in model.weights:
        path = w.path
        shape = tuple(w.shape)
        if path.endswith(("bias", "beta")):
            w.assign(rng.normal(0.0, 0.1, shape).astype(w.dtype))
        elif path.endswith("gamma"):
            w.assign(rng.uniform(0.5, 1.5, shape).astype(w.dtype))
    if norms:
        momenta = [layer.momentum for layer in norms]
        for layer in norms:
            layer.momentum = 0.0  # one training-mode call sets the statistics to the batch's
        x = sample_inputs(model, batch=8, seed=seed + 1)
        model(x if len(x) > 1 else x[0], training=True)
        for layer, m in zip(norms, momenta):
            layer.momentum = m
            # the second moment, not the variance: a channel whose spread is tiny beside its mean
            # would otherwise amplify float rounding (from any two kernels) far beyond atol
            mean = layer.moving_mean.numpy()
            layer.moving_variance.assign(layer.moving_variance.numpy() + mean * mean)
    return model


def small_cnn():
    import keras
    from keras import layers

    inp = keras.Input((32, 32, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same", name="conv1_conv")(inp)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(name="conv1_relu")(x)
    y = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    y = layers.BatchNormalization(name="dw_bn")(y)
    x = layers.Add(name="residual")([x, y])
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.Conv2D(16, 3, strides=2, name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = layers.Dense(10, name="fc")(x)
    return randomize(keras.Model(inp, out, name="small_cnn"))


def sequence_model():
    """LSTM -> GRU -> Dense over a (batch, 12, 8) float sequence."""
    import keras
    from keras import layers

    inp = keras.Input((12, 8), name="sequence")
    x = layers.LSTM(16, return_sequences=True, name="lstm")(inp)
    x = layers.GRU(12, name="gru")(x)
    out = layers.Dense(4, name="head")(x)
    return randomize(keras.Model(inp, out, name="lstm_gru"))


def transformer_encoder(vocab: int = 100, length: int = 16, dim: int = 32):
    """Token + position embeddings, one encoder block (MultiHeadAttention, LayerNorm, GELU MLP), pooled logits."""
    import keras
    from keras import layers

    tokens = keras.Input((length,), dtype="int32", name="tokens")
    x = layers.Embedding(vocab, dim, name="token_embedding")(tokens)
    x = _position_embedding()(length, dim, name="position_embedding")(x)
    h = layers.MultiHeadAttention(num_heads=4, key_dim=dim // 4, name="attention")(query=x, value=x)
    x = layers.Add(name="attention_residual")([x, h])
    x = layers.LayerNormalization(epsilon=1e-6, name="attention_norm")(x)
    h = layers.Dense(2 * dim, activation="gelu", name="mlp_in")(x)
    h = layers.Dense(dim, name="mlp_out")(h)
    x = layers.Add(name="mlp_residual")([x, h])
    x = layers.LayerNormalization(epsilon=1e-6, name="mlp_norm")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    out = layers.Dense(3, name="classifier")(x)
    return randomize(keras.Model(tokens, out, name="transformer_encoder"))


def _position_embedding():
    """A learned position embedding added to its input: a custom layer (registered, so that
    Keras can load the saved forms back in this process), as most Transformer code has."""
    import keras

    global _PositionEmbedding
    if _PositionEmbedding is None:

        @keras.saving.register_keras_serializable(package="mmconvert_tests")
        class PositionEmbedding(keras.layers.Layer):
            def __init__(self, length, dim, **kwargs):
                super().__init__(**kwargs)
                self.length, self.dim = length, dim

            def build(self, input_shape):
                self.embeddings = self.add_weight(shape=(self.length, self.dim), name="embeddings")

            def call(self, x):
                return x + self.embeddings

            def get_config(self):
                return dict(super().get_config(), length=self.length, dim=self.dim)

        _PositionEmbedding = PositionEmbedding
    return _PositionEmbedding


_PositionEmbedding = None


def text_cnn(vocab: int = 1000, length: int = 40):
    """Embedding -> Conv1D -> GlobalMaxPooling1D -> Dense over int token ids."""
    import keras
    from keras import layers

    tokens = keras.Input((length,), dtype="int32", name="tokens")
    x = layers.Embedding(vocab, 16, name="embedding")(tokens)
    x = layers.Conv1D(32, 5, activation="relu", name="conv")(x)
    x = layers.GlobalMaxPooling1D(name="pool")(x)
    x = layers.Dense(16, activation="relu", name="hidden")(x)
    out = layers.Dense(1, name="logit")(x)
    return randomize(keras.Model(tokens, out, name="text_cnn"))


SMALL = {"small_cnn": small_cnn, "lstm_gru": sequence_model, "transformer_encoder": transformer_encoder,
         "text_cnn": text_cnn}


def sample_inputs(model, batch: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Seeded inputs for ``model`` (token ids below the smallest embedding table)."""
    rng = np.random.default_rng(seed)
    out = []
    for t in model.inputs:
        shape = [batch] + [d if d is not None else 8 for d in t.shape[1:]]
        if "int" in str(t.dtype):
            out.append(rng.integers(0, 100, shape).astype(str(t.dtype)))
        else:
            out.append(rng.standard_normal(shape).astype("float32"))
    return out


def artifact_weight_names(path: str) -> list[str]:
    """The weight names an artifact stores: an .onnx file's initializers, an emitted folder's
    ``weights.safetensors`` keys."""
    import os

    if os.path.isfile(path):
        import onnx

        model = onnx.load(path, load_external_data=False)
        return [t.name for t in model.graph.initializer]
    from safetensors import safe_open

    with safe_open(os.path.join(path, "weights.safetensors"), "np") as f:
        return list(f.keys())


def names_surviving(model, names: list[str]) -> tuple[float, float]:
    """(share of ``model``'s weights stored under their layer's name, share stored under
    their own full name), comparing identifiers (``conv1_conv/kernel`` -> ``conv1_conv_kernel``):
    a name counts for a layer when it is the layer's identifier or starts with it plus ``_``."""
    from mmconvert.backends.codegen.namespace import identifier

    keys = [identifier(n) for n in names]
    weights = [w.path for w in model.weights]

    def under(prefix: str) -> bool:
        return any(k == prefix or k.startswith(prefix + "_") for k in keys)

    layer = sum(under(identifier(p.rsplit("/", 1)[0])) for p in weights)
    full = sum(under(identifier(p)) for p in weights)
    return layer / max(len(weights), 1), full / max(len(weights), 1)
