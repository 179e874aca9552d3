"""Normalizations: BatchNormalization, InstanceNormalization, LayerNormalization,
GroupNormalization, RMSNormalization, LRN, LpNormalization, MeanVarianceNormalization."""

from __future__ import annotations

import numpy as np

from ..dialect import NodeCtx, lit, torch_dtype
from ..registry import register
from .conv import _param_base


def _dtype_arg(c: NodeCtx, i: int) -> str:
    dt = c.dtype(i)
    return "" if dt in (None, "float32") else f", dtype={torch_dtype(dt)}"


def _base(c: NodeCtx, i: int) -> str | None:
    b = _param_base(c, i)
    if b is None:
        name = c.node.inputs[i]
        for suffix in (".scale", "_scale", ".gamma", "_gamma"):
            if name.endswith(suffix):
                return name[: -len(suffix)]
    return b


@register("BatchNormalization")
def batch_norm(c: NodeCtx) -> None:
    eps = float(c.attr("epsilon", 1e-5))
    if c.attr("training_mode", 0):
        h = c.helper("batch_norm_training")
        expr = (f"{h}({', '.join(c.x(i) for i in range(5))}, {lit(eps)}, "
                f"{lit(float(c.attr('momentum', 0.9)))})[:{len(c.node.outputs)}]")
        c.outs(expr)
        return
    consts = [c.const(i) for i in range(1, 5)]
    r = c.rank(0)
    if all(a is not None for a in consts) and r in (2, 3, 4, 5) and len({a.shape for a in consts}) == 1 \
            and consts[0].ndim == 1 and len({a.dtype for a in consts}) == 1:
        n = {2: 1, 3: 1, 4: 2, 5: 3}[r]
        scale, bias, mean, var = consts
        mod = c.module(f"nn.BatchNorm{n}d({scale.size}, eps={lit(eps)}{_dtype_arg(c, 1)})",
                       {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var,
                        "num_batches_tracked": np.zeros((), np.int64)}, base=_base(c, 1))
        c.out(f"{mod}({c.x(0)})")
        return
    x = c.x(0)
    args = ", ".join(c.x(i) for i in (3, 4, 1, 2))
    if c.dtype(0) != c.dtype(1) or c.dtype(0) != c.dtype(3):
        dt = torch_dtype(c.dtype(0))
        args = ", ".join(f"{c.x(i)}.to({dt})" for i in (3, 4, 1, 2))
    c.out(f"F.batch_norm({x}, {args}, False, 0.0, {lit(eps)})")


@register("InstanceNormalization")
def instance_norm(c: NodeCtx) -> None:
    eps = float(c.attr("epsilon", 1e-5))
    scale, bias = c.const(1), c.const(2)
    r = c.rank(0)
    if scale is not None and bias is not None and r in (3, 4, 5):
        mod = c.module(f"nn.InstanceNorm{r - 2}d({scale.size}, eps={lit(eps)}, affine=True{_dtype_arg(c, 1)})",
                       {"weight": scale, "bias": bias}, base=_base(c, 1))
        c.out(f"{mod}({c.x(0)})")
        return
    c.out(f"F.instance_norm({c.x(0)}, weight={c.x(1)}, bias={c.x(2)}, eps={lit(eps)})")


def _stash(c: NodeCtx, x: str) -> tuple[str, str]:
    """(input expr in the compute type, suffix to cast back) for stash_type."""
    dt = c.dtype(0)
    if int(c.attr("stash_type", 1)) == 1 and dt in ("float16", "bfloat16"):
        return f"{x}.float()", f".to({torch_dtype(dt)})"
    return x, ""


@register("LayerNormalization", since=17)
def layer_norm(c: NodeCtx) -> None:
    eps = float(c.attr("epsilon", 1e-5))
    axis = int(c.attr("axis", -1))
    r = c.rank(0)
    used = c.used_outputs()
    stats = any(o in used for o in c.node.outputs[1:] if o)
    x = c.x(0)
    if r is not None and axis < 0:
        axis += r
    scale, bias = c.const(1), c.const(2) if c.has(2) else None
    xshape = c.shape(0)
    norm_shape = None
    if xshape is not None and axis >= 0 and all(isinstance(d, int) for d in xshape[axis:]):
        norm_shape = tuple(xshape[axis:])
    if not stats and norm_shape is not None and scale is not None and scale.shape == norm_shape \
            and (not c.has(2) or bias is not None and bias.shape == norm_shape) and c.dtype(0) == c.dtype(1):
        has_bias = c.has(2)
        mod = c.module(f"nn.LayerNorm({norm_shape if len(norm_shape) > 1 else norm_shape[0]}, eps={lit(eps)}"
                       f"{'' if has_bias else ', bias=False'}{_dtype_arg(c, 1)})",
                       {"weight": scale, "bias": bias}, base=_base(c, 1))
        c.out(f"{mod}({x})")
        return
    h = c.helper("layer_norm_onnx")
    b = c.x(2) if c.has(2) else "None"
    expr = f"{h}({x}, {c.x(1)}, {b}, {axis}, {lit(eps)}, {int(c.attr('stash_type', 1))})"
    if stats:
        c.outs(f"{expr}[:{len(c.node.outputs)}]")
    else:
        c.out(f"{expr}[0]")


@register("GroupNormalization", since=21)
def group_norm(c: NodeCtx) -> None:
    eps = float(c.attr("epsilon", 1e-5))
    groups = int(c.attr("num_groups"))
    x, suffix = _stash(c, c.x(0))
    scale, bias = c.const(1), c.const(2)
    if scale is not None and bias is not None and not suffix and c.dtype(0) == c.dtype(1):
        mod = c.module(f"nn.GroupNorm({groups}, {scale.size}, eps={lit(eps)}{_dtype_arg(c, 1)})",
                       {"weight": scale, "bias": bias}, base=_base(c, 1))
        c.out(f"{mod}({x})")
        return
    c.out(f"F.group_norm({x}, {groups}, {c.x(1)}, {c.x(2)}, {lit(eps)}){suffix}")


@register("RMSNormalization", since=23)
def rms_norm(c: NodeCtx) -> None:
    eps = float(c.attr("epsilon", 1e-5))
    axis = int(c.attr("axis", -1))
    r = c.need_rank(0)
    if axis < 0:
        axis += r
    dims = tuple(range(axis, r))
    xshape, scale = c.shape(0), c.const(1)
    if c.dtype(0) == "float32" and c.dtype(1) == "float32" and xshape is not None \
            and all(isinstance(d, int) for d in xshape[axis:]) and scale is not None and scale.shape == tuple(xshape[axis:]):
        c.out(f"F.rms_norm({c.x(0)}, {tuple(xshape[axis:])!r}, {c.x(1)}, eps={lit(eps)})")
        return
    x, suffix = _stash(c, c.x(0))
    if int(c.attr("stash_type", 1)) == 1 and c.dtype(0) != "float32" and not suffix:
        suffix = ""
    c.out(f"({x} * torch.rsqrt({x}.pow(2).mean(dim={dims}, keepdim=True) + {lit(eps)})){suffix} * {c.x(1)}")


@register("LRN")
def lrn(c: NodeCtx) -> None:
    size = int(c.attr("size"))
    alpha, beta, bias = float(c.attr("alpha", 1e-4)), float(c.attr("beta", 0.75)), float(c.attr("bias", 1.0))
    c.out(f"F.local_response_norm({c.x(0)}, {size}, alpha={lit(alpha)}, beta={lit(beta)}, k={lit(bias)})")


@register("LpNormalization")
def lp_norm(c: NodeCtx) -> None:
    x = c.x(0)
    p = int(c.attr("p", 2))
    axis = int(c.attr("axis", -1))
    c.out(f"F.normalize({x}, {p}, dim={axis}, eps=0.0).nan_to_num(0.0)" if p == 2 else
          f"F.normalize({x}, {p}, dim={axis}, eps=0.0).nan_to_num(0.0)")


@register("MeanVarianceNormalization", since=9)
def mvn(c: NodeCtx) -> None:
    axes = tuple(c.attr("axes", [0, 2, 3]))
    x = c.x(0)
    mean = c.tmp("mean")
    c.line(f"{mean} = {x}.mean(dim={axes}, keepdim=True)")
    c.out(f"({x} - {mean}) / (torch.sqrt(({x} * {x}).mean(dim={axes}, keepdim=True) - {mean} * {mean}) + 1e-09)")
    c.line(f"del {mean}")
