"""Quantization, NonMaxSuppression, Unique, BitCast, GridSample, MaxUnpool, and the few
classical-ML ops (ai.onnx.ml) with a direct TensorFlow spelling."""

from __future__ import annotations

import numpy as np

from mmconvert.ir import dtypes

from ..registry import register
from .common import NodeCtx, lit, norm_axis, tf_dtype


def _axis(c: NodeCtx) -> int:
    return norm_axis(int(c.attr("axis", 1)), c.rank(0))


@register("QuantizeLinear", since=10)
def quantize(c: NodeCtx) -> None:
    to = c.attr("output_dtype")
    if to:
        name = dtypes.from_onnx(int(to))
    elif c.has(2):
        name = c.dtype(2)
    else:
        name = "uint8"
    zp = c.x(2) if c.has(2) else "None"
    c.out(f"{c.helper('quantize_linear')}({c.x(0)}, {c.x(1)}, {zp}, {_axis(c)}, {tf_dtype(name)}, "
          f"{int(c.attr('block_size', 0))})")


@register("DequantizeLinear", since=10)
def dequantize(c: NodeCtx) -> None:
    zp = c.x(2) if c.has(2) else "None"
    c.out(f"{c.helper('dequantize_linear')}({c.x(0)}, {c.x(1)}, {zp}, {_axis(c)}, {int(c.attr('block_size', 0))})")


@register("NonMaxSuppression", since=11)
def nms(c: NodeCtx) -> None:
    args = [c.x(0), c.x(1)] + [c.x(i) if c.has(i) else "None" for i in (2, 3, 4)]
    c.out(f"{c.helper('nms_onnx')}({', '.join(args)}, {int(c.attr('center_point_box', 0))})")


@register("Unique", since=11)
def unique(c: NodeCtx) -> None:
    axis = c.attr("axis")
    c.outs(f"{c.helper('unique_onnx')}({c.x(0)}, {None if axis is None else int(axis)}, "
           f"{bool(int(c.attr('sorted', 1)))})[:{len(c.node.outputs)}]")


@register("BitCast", since=26)
def bitcast(c: NodeCtx) -> None:
    c.out(f"tf.bitcast({c.x(0)}, {tf_dtype(dtypes.from_onnx(int(c.attr('to'))))})")


@register("GridSample", since=16)
def grid_sample(c: NodeCtx) -> None:
    modes = {"linear": "linear", "bilinear": "linear", "cubic": "cubic", "bicubic": "cubic", "nearest": "nearest"}
    mode = modes[c.choice("mode", "linear", modes)]
    padding = c.choice("padding_mode", "zeros", ("zeros", "border", "reflection"))
    c.out(f"{c.helper('grid_sample_onnx')}({c.x(0)}, {c.x(1)}, {mode!r}, {padding!r}, "
          f"{bool(int(c.attr('align_corners', 0)))})")


@register("Binarizer", domain="ai.onnx.ml")
def binarizer(c: NodeCtx) -> None:
    x = c.x(0)
    c.out(f"tf.cast({x} > {lit(float(c.attr('threshold', 0.0)))}, {x}.dtype)")


@register("ArrayFeatureExtractor", domain="ai.onnx.ml")
def array_feature_extractor(c: NodeCtx) -> None:
    c.out(f"tf.gather({c.x(0)}, tf.reshape({c.x(1)}, [-1]), axis=-1)")


@register("LabelEncoder", domain="ai.onnx.ml", since=2)
def label_encoder(c: NodeCtx) -> None:
    keys, values = _keys_values(c, "keys"), _keys_values(c, "values")
    default = _default(c)
    if keys is None or values is None:
        c.fail("LabelEncoder without keys/values")
    kt, vt = _table_dtype(keys), _table_dtype(values)
    table = c.cg.attr_name(f"{c.base}_table")
    c.cg.init_lines.append(
        f"self.{table} = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer("
        f"tf.constant({lit(keys)}, {kt}), tf.constant({lit(values)}, {vt})), {lit(default)})")
    c.out(f"self.{table}.lookup({c.x(0)})")


def _keys_values(c: NodeCtx, what: str):
    for suffix in ("_strings", "_int64s", "_floats", "_tensor"):
        v = c.attr(what + suffix)
        if v is not None:
            arr = np.asarray(v)
            if arr.dtype.kind in "OSU":
                return [x.decode() if isinstance(x, bytes) else str(x) for x in arr.reshape(-1)]
            return arr.reshape(-1).tolist()
    return None


def _table_dtype(values: list) -> str:
    if values and isinstance(values[0], str):
        return "tf.string"
    if values and isinstance(values[0], float):
        return "tf.float32"
    return "tf.int64"


def _default(c: NodeCtx):
    for key, conv in (("default_string", str), ("default_int64", int), ("default_float", float)):
        v = c.attr(key)
        if v is not None and (key != "default_string" or c.attr("values_strings") is not None):
            return conv(v)
    t = c.attr("default_tensor")
    if t is not None:
        v = np.asarray(t).reshape(-1)[0]
        return v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v
    if c.attr("values_strings") is not None:
        return "_Unused"
    if c.attr("values_floats") is not None:
        return -0.0
    return -1
