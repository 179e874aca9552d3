"""Resize (and Upsample, which the opset adapters turn into Resize).

The common cases run on TensorFlow's image kernels: bilinear with half-pixel centres
(``tf.image.resize``) and nearest with ONNX's asymmetric/floor rule
(``tf.compat.v1.image.resize_nearest_neighbor``), on channels-last data whose scale is
exactly out/in.  Every other combination of ONNX's coordinate modes, nearest modes, cubic
coefficient, antialias, exclude_outside, ROI and axes goes to ``resize_onnx``, which
interpolates one axis at a time the way the ONNX reference does.
"""

from __future__ import annotations

import numpy as np

from ..registry import register
from .common import NodeCtx, lit, static_shape


def _static_out(c: NodeCtx) -> tuple[list, list] | None:
    """(input shape, output shape) when both are known at conversion time."""
    xs = static_shape(c, 0)
    if xs is None or None in xs or c.attr("axes") is not None:
        return None
    sizes = c.int_list(3) if c.has(3) else None
    scales = c.const(2) if c.has(2) else None
    if sizes:
        if c.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
            return None
        return xs, list(sizes)
    if scales is not None and scales.size:
        out = [int(np.floor(d * float(s))) for d, s in zip(xs, scales)]
        if any(abs(o - d * float(s)) > 1e-9 for o, d, s in zip(out, xs, scales)):
            return None  # the scale is not exactly out/in: the image kernels would sample elsewhere
        return xs, out
    return None


def _fast(c: NodeCtx) -> str | None:
    shapes = _static_out(c)
    if shapes is None or len(shapes[0]) != 4 or int(c.attr("antialias", 0)):
        return None
    xs, out = shapes
    if out[0] != xs[0] or out[3] != xs[3] or c.dtype(0) not in ("float32", "float16"):
        return None  # only the middle (spatial, channels-last) axes
    mode = c.attr("mode", "nearest")
    coord = c.attr("coordinate_transformation_mode", "half_pixel")
    size = lit(out[1:3])
    if mode == "linear" and (coord == "half_pixel" or coord == "pytorch_half_pixel" and min(out[1:3]) > 1):
        return f"tf.image.resize({c.x(0)}, {size}, method='bilinear')"
    if mode == "linear" and coord == "align_corners":
        return f"tf.compat.v1.image.resize_bilinear({c.x(0)}, {size}, align_corners=True)"
    if mode == "nearest" and coord == "asymmetric" and c.attr("nearest_mode", "round_prefer_floor") == "floor":
        return f"tf.compat.v1.image.resize_nearest_neighbor({c.x(0)}, {size})"
    return None


@register("Resize", since=11)
def resize(c: NodeCtx) -> None:
    fast = _fast(c)
    if fast is not None:
        c.out(fast)
        return
    args = [c.x(0), c.x(1) if c.has(1) else "None", c.x(2) if c.has(2) else "None", c.x(3) if c.has(3) else "None"]
    kw = {"mode": c.attr("mode", "nearest"),
          "coord": c.attr("coordinate_transformation_mode", "half_pixel"),
          "nearest": c.attr("nearest_mode", "round_prefer_floor"),
          "cubic_a": float(c.attr("cubic_coeff_a", -0.75)),
          "exclude_outside": bool(int(c.attr("exclude_outside", 0))),
          "extrapolation": float(c.attr("extrapolation_value", 0.0)),
          "antialias": bool(int(c.attr("antialias", 0))),
          "axes": None if c.attr("axes") is None else [int(a) for a in c.attr("axes")],
          "policy": c.attr("keep_aspect_ratio_policy", "stretch")}
    defaults = {"cubic_a": -0.75, "exclude_outside": False, "extrapolation": 0.0, "antialias": False, "axes": None,
                "policy": "stretch"}
    args += [f"{k}={lit(v)}" for k, v in kw.items() if defaults.get(k, object()) != v]
    c.out(f"{c.helper('resize_onnx')}({', '.join(args)})")
