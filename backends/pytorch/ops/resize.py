"""Resize (and the deprecated Upsample once normalized): ``F.interpolate`` where its
sampling is ONNX's, else an exact separable helper."""

from __future__ import annotations

from ..dialect import NodeCtx, lit
from ..registry import register

_TORCH_MODE = {(2, "linear"): "linear", (3, "linear"): "bilinear", (4, "linear"): "bilinear",
               (5, "linear"): "trilinear", (4, "cubic"): "bicubic"}


def _fast(c: NodeCtx) -> str | None:
    """An F.interpolate call when it samples exactly like this Resize node."""
    r = c.rank(0)
    mode = c.attr("mode", "nearest")
    coord = c.attr("coordinate_transformation_mode", "half_pixel")
    if r is None or r < 3 or r > 5 or c.attr("antialias", 0) or c.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        return None
    axes = c.attr("axes")
    if axes is not None and sorted(a + r if a < 0 else a for a in axes) != list(range(2, r)):
        return None
    if c.dtype(0) not in ("float32", "float64"):
        return None
    scales = c.const(2) if c.has(2) else None
    sizes = c.const(3) if c.has(3) else None
    if c.has(2) and scales is None or c.has(3) and sizes is None:
        return None
    if scales is not None and scales.size:
        sc = [float(v) for v in scales.reshape(-1)]
        if axes is None:
            if sc[:2] != [1.0, 1.0]:
                return None
            sc = sc[2:]
        # torch computes the output size as floor(in * scale) like ONNX
        size_arg = f"scale_factor={tuple(sc)}"
    elif sizes is not None and sizes.size:
        sz = [int(v) for v in sizes.reshape(-1)]
        shape = c.shape(0)
        if axes is None:
            if shape is None or sz[:2] != list(shape[:2]):
                return None
            sz = sz[2:]
        size_arg = f"size={tuple(sz)}"
    else:
        return None
    x = c.x(0)
    if mode == "nearest":
        if coord == "asymmetric" and c.attr("nearest_mode", "round_prefer_floor") == "floor":
            return f"F.interpolate({x}, {size_arg}, mode='nearest')"
        return None
    tmode = _TORCH_MODE.get((r, mode))
    if tmode is None:
        return None
    if mode == "cubic" and (float(c.attr("cubic_coeff_a", -0.75)) != -0.75 or c.attr("exclude_outside", 0)):
        return None
    if coord == "align_corners":
        return f"F.interpolate({x}, {size_arg}, mode={tmode!r}, align_corners=True)"
    if coord in ("half_pixel", "pytorch_half_pixel") and size_arg.startswith("size") or coord == "half_pixel":
        return f"F.interpolate({x}, {size_arg}, mode={tmode!r}, align_corners=False)"
    return None


@register("Resize", since=10)
def resize(c: NodeCtx) -> None:
    fast = _fast(c)
    if fast is not None:
        c.out(fast)
        return
    h = c.helper("resize_onnx")
    args = [c.x(0), c.x(1) if c.has(1) else "None", c.x(2) if c.has(2) and (c.const(2) is None or c.const(2).size) else "None",
            c.ints(3) if c.has(3) else "None"]
    kw = [f"mode={c.attr('mode', 'nearest')!r}",
          f"coord_mode={c.attr('coordinate_transformation_mode', 'half_pixel')!r}",
          f"nearest_mode={c.attr('nearest_mode', 'round_prefer_floor')!r}",
          f"cubic_a={lit(float(c.attr('cubic_coeff_a', -0.75)))}",
          f"exclude_outside={bool(c.attr('exclude_outside', 0))}",
          f"extrapolation={lit(float(c.attr('extrapolation_value', 0.0)))}",
          f"antialias={bool(c.attr('antialias', 0))}",
          f"axes={list(c.attr('axes')) if c.attr('axes') is not None else None}",
          f"policy={c.attr('keep_aspect_ratio_policy', 'stretch')!r}"]
    c.out(f"{h}({', '.join(args + kw)})")
