"""Normalizations: layer_norm, group_norm, batch_norm (inference), instance_norm, rms_norm."""

from __future__ import annotations

import numpy as np
import torch

from . import aten, unmapped
from ..tensors import np_dtype


def _param_or(c, v, n, fill: float, base: str, dtype: str) -> str:
    """The parameter ``v``, or a constant filled with ``fill`` when the module has none."""
    if v is not None:
        return c.x(v, dtype)
    return c.const(np.full(n, fill, dtype=np_dtype(dtype)), base)


def _numel(c, dims) -> list[int]:
    if not c.static(dims):
        unmapped(c, "a normalized shape of dynamic size")
    return [int(d) for d in dims]


@aten("layer_norm.default", "native_layer_norm.default")
def layer_norm(c):
    x = c["input"]
    shape = _numel(c, c["normalized_shape"])
    dt = c.dtype(x)
    scale = _param_or(c, c.get("weight"), shape, 1.0, "scale", dt)
    inputs = [c.x(x), scale] + ([c.x(c["bias"], dt)] if c.get("bias") is not None else [])
    eps = float(c.get("eps", 1e-5))
    if c.key == "aten.native_layer_norm.default":
        y, mean, inv = c.out("LayerNormalization", inputs, n_out=3, axis=-len(shape), epsilon=eps)
        return [y, mean, inv]
    return c.out("LayerNormalization", inputs, axis=-len(shape), epsilon=eps)


@aten("group_norm.default", "native_group_norm.default")
def group_norm(c):
    x = c["input"]
    channels = c.shape(x)[1]
    if not isinstance(channels, int) and not c.static([channels]):
        unmapped(c, "a dynamic channel count")
    channels = int(channels)
    groups = int(c["num_groups"] if "num_groups" in c.args else c["group"])
    dt = c.dtype(x)
    scale = _param_or(c, c.get("weight"), [channels], 1.0, "scale", dt)
    bias = _param_or(c, c.get("bias"), [channels], 0.0, "bias", dt)
    eps = float(c.get("eps", 1e-5))
    if c.key == "aten.native_group_norm.default":
        return [c.out("GroupNormalization", [c.x(x), scale, bias], num_groups=groups, epsilon=eps), None, None]
    return c.out("GroupNormalization", [c.x(x), scale, bias], num_groups=groups, epsilon=eps)


@aten("batch_norm.default", "_native_batch_norm_legit_no_training.default", "native_batch_norm.default",
      "_native_batch_norm_legit.default", "cudnn_batch_norm.default")
def batch_norm(c):
    x = c["input"]
    if c.get("training", False) and c.key != "aten._native_batch_norm_legit_no_training.default":
        unmapped(c, "batch statistics (the module is in training mode; call .eval() first)")
    mean, var = c.get("running_mean"), c.get("running_var")
    if mean is None or var is None:
        unmapped(c, "batch norm without running statistics")
    channels = int(c.shape(x)[1])
    dt = c.dtype(x)
    scale = _param_or(c, c.get("weight"), [channels], 1.0, "scale", dt)
    bias = _param_or(c, c.get("bias"), [channels], 0.0, "bias", dt)
    eps = float(c.get("eps", 1e-5))
    if c.key == "aten.batch_norm.default":
        return c.out("BatchNormalization", [c.x(x), scale, bias, c.x(mean, dt), c.x(var, dt)], epsilon=eps)
    y = c.out("BatchNormalization", [c.x(x), scale, bias, c.x(mean, dt), c.x(var, dt)], epsilon=eps)
    return [y] + [None] * (len(c.val) - 1)


@aten("instance_norm.default")
def instance_norm(c):
    x = c["input"]
    if not c.get("use_input_stats", True):
        unmapped(c, "instance norm with running statistics")
    channels = int(c.shape(x)[1])
    dt = c.dtype(x)
    scale = _param_or(c, c.get("weight"), [channels], 1.0, "scale", dt)
    bias = _param_or(c, c.get("bias"), [channels], 0.0, "bias", dt)
    return c.out("InstanceNormalization", [c.x(x), scale, bias], epsilon=float(c.get("eps", 1e-5)))


@aten("rms_norm.default", "_fused_rms_norm.default")
def rms_norm(c):
    x = c["input"]
    shape = _numel(c, c["normalized_shape"])
    dt = c.dtype(x)
    eps = c.get("eps")
    if eps is None:
        eps = float(torch.finfo(getattr(torch, dt) if dt != "bfloat16" else torch.bfloat16).eps)
    scale = _param_or(c, c.get("weight"), shape, 1.0, "scale", dt)
    out = c.out("RMSNormalization", [c.x(x), scale], axis=-len(shape), epsilon=float(eps))
    return out if c.key == "aten.rms_norm.default" else [out, None]
