"""Resampling: upsample (nearest, bilinear, bicubic; what ``F.interpolate`` calls) as
``Resize`` to the output's own size, pixel_shuffle as ``DepthToSpace``."""

from __future__ import annotations

from . import aten, unmapped


def _resize(c, mode: str, align_corners: bool = False):
    x = c.args[0]
    r = c.rank(x)
    out = c.out_shape()
    sizes = c.shape_tensor(out)
    if mode == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    elif mode == "nearest-exact":
        attrs = dict(mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil")
    else:
        ctm = "align_corners" if align_corners else "pytorch_half_pixel"
        attrs = dict(mode="linear" if mode == "linear" else "cubic", coordinate_transformation_mode=ctm)
        if mode == "cubic":
            attrs["cubic_coeff_a"] = -0.75
    if c.get("scale_factors") is not None or any(c.get(k) is not None for k in ("scales", "scales_h", "scales_w",
                                                                                 "scales_d")):
        scales = [1.0, 1.0] + [float(s) for s in (c.get("scale_factors") or [])]
        if len(scales) != r or any(s != int(s) for s in scales[2:]):
            unmapped(c, "fractional scale factors (torch maps coordinates by the factor, not the size)")
    return c.out("Resize", [c.x(x), "", "", sizes], **attrs)


@aten("upsample_nearest1d.vec", "upsample_nearest2d.vec", "upsample_nearest3d.vec", "upsample_nearest1d.default",
      "upsample_nearest2d.default", "upsample_nearest3d.default")
def upsample_nearest(c):
    return _resize(c, "nearest")


@aten("_upsample_nearest_exact1d.vec", "_upsample_nearest_exact2d.vec", "_upsample_nearest_exact3d.vec",
      "_upsample_nearest_exact2d.default")
def upsample_nearest_exact(c):
    return _resize(c, "nearest-exact")


@aten("upsample_linear1d.vec", "upsample_bilinear2d.vec", "upsample_trilinear3d.vec", "upsample_linear1d.default",
      "upsample_bilinear2d.default", "upsample_trilinear3d.default")
def upsample_linear(c):
    if c.get("antialias"):
        unmapped(c, "antialiased resizing")
    return _resize(c, "linear", bool(c.get("align_corners", False)))


@aten("upsample_bicubic2d.vec", "upsample_bicubic2d.default")
def upsample_bicubic(c):
    return _resize(c, "cubic", bool(c.get("align_corners", False)))


@aten("pixel_shuffle.default")
def pixel_shuffle(c):
    if c.rank(c["self"]) != 4:
        unmapped(c, "pixel shuffle of a tensor that is not 4-D")
    return c.out("DepthToSpace", [c.x(c["self"])], blocksize=int(c["upscale_factor"]), mode="CRD")
