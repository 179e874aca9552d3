"""Activations and the softmax family."""

from __future__ import annotations

import numpy as np

from ..dialect import NodeCtx, lit
from ..registry import register


def _simple(template: str):
    def handler(c: NodeCtx) -> None:
        c.out(template.format(x=c.x(0)))
    return handler


register("Relu")(_simple("F.relu({x})"))
register("Sigmoid")(_simple("torch.sigmoid({x})"))
register("Tanh")(_simple("torch.tanh({x})"))
register("Softplus")(_simple("F.softplus({x})"))
register("Softsign")(_simple("F.softsign({x})"))
register("Mish", since=18)(_simple("F.mish({x})"))
register("HardSwish", since=14)(_simple("F.hardswish({x})"))


@register("LeakyRelu")
def leaky_relu(c: NodeCtx) -> None:
    c.out(f"F.leaky_relu({c.x(0)}, {lit(float(c.attr('alpha', 0.01)))})")


@register("Elu")
def elu(c: NodeCtx) -> None:
    c.out(f"F.elu({c.x(0)}, {lit(float(c.attr('alpha', 1.0)))})")


@register("Celu", since=12)
def celu(c: NodeCtx) -> None:
    c.out(f"F.celu({c.x(0)}, {lit(float(c.attr('alpha', 1.0)))})")


@register("Selu")
def selu(c: NodeCtx) -> None:
    alpha = float(c.attr("alpha", 1.67326319217681884765625))
    gamma = float(c.attr("gamma", 1.05070102214813232421875))
    x = c.x(0)
    if np.isclose(alpha, 1.6732632423543772) and np.isclose(gamma, 1.0507009873554805):
        c.out(f"F.selu({x})")
    else:
        c.out(f"{lit(gamma)} * torch.where({x} > 0, {x}, {lit(alpha)} * torch.expm1({x}))")


@register("HardSigmoid")
def hard_sigmoid(c: NodeCtx) -> None:
    alpha, beta = float(c.attr("alpha", 0.2)), float(c.attr("beta", 0.5))
    c.out(f"torch.clamp({c.x(0)} * {lit(alpha)} + {lit(beta)}, 0, 1)")


@register("ThresholdedRelu", since=10)
def thresholded_relu(c: NodeCtx) -> None:
    x = c.x(0)
    c.out(f"torch.where({x} > {lit(float(c.attr('alpha', 1.0)))}, {x}, 0)")


@register("Shrink", since=9)
def shrink(c: NodeCtx) -> None:
    x, b, l = c.x(0), lit(float(c.attr("bias", 0.0))), lit(float(c.attr("lambd", 0.5)))
    expr = f"torch.where({x} < -{l}, {x} + {b}, torch.where({x} > {l}, {x} - {b}, 0))"
    if c.dtype(0) not in ("float32", "float64", "float16", "bfloat16"):
        expr += f".to({x}.dtype)"
    c.out(expr)


@register("Gelu", since=20)
def gelu(c: NodeCtx) -> None:
    approx = c.attr("approximate", "none")
    c.out(f"F.gelu({c.x(0)})" if approx == "none" else f"F.gelu({c.x(0)}, approximate='tanh')")


@register("Swish", since=24)
def swish(c: NodeCtx) -> None:
    alpha = float(c.attr("alpha", 1.0))
    x = c.x(0)
    c.out(f"F.silu({x})" if alpha == 1.0 else f"{x} * torch.sigmoid({lit(alpha)} * {x})")


@register("PRelu")
def prelu(c: NodeCtx) -> None:
    x = c.x(0)
    slope = c.const(1)
    r = c.rank(0)
    if slope is not None and r is not None and r >= 2 and slope.size > 1 and slope.ndim <= r \
            and slope.shape == (slope.size,) + (1,) * (r - 2) and slope.ndim == r - 1:
        mod = c.module(f"nn.PReLU({slope.size})", {"weight": slope.reshape(-1)})
        c.out(f"{mod}({x})")
        return
    if slope is not None and slope.size == 1:
        c.out(f"torch.where({x} < 0, {x} * {lit(slope.reshape(-1)[0].item())}, {x})")
        return
    c.out(f"torch.where({x} < 0, {x} * {c.x(1)}, {x})")


@register("Clip")
def clip(c: NodeCtx) -> None:
    x = c.x(0)
    lo = c.scalar(1) if c.has(1) else None
    hi = c.scalar(2) if c.has(2) else None
    lo_e = lit(lo) if lo is not None else (c.x(1) if c.has(1) else "None")
    hi_e = lit(hi) if hi is not None else (c.x(2) if c.has(2) else "None")
    if lo_e == "None" and hi_e == "None":
        c.out(f"{x}.clone()")
        return
    if lo == 0 and hi is None and c.dtype(0) in ("float32", "float64", "float16", "bfloat16"):
        c.out(f"F.relu({x})")
        return
    if lo == 0 and hi == 6 and c.dtype(0) in ("float32", "float64", "float16", "bfloat16"):
        c.out(f"F.relu6({x})")
        return
    c.out(f"torch.clamp({x}, {lo_e}, {hi_e})")


def _axis(c: NodeCtx, default: int = -1) -> int:
    return int(c.attr("axis", default))


@register("Softmax", since=13)
def softmax(c: NodeCtx) -> None:
    c.out(f"F.softmax({c.x(0)}, dim={_axis(c)})")


@register("LogSoftmax", since=13)
def log_softmax(c: NodeCtx) -> None:
    c.out(f"F.log_softmax({c.x(0)}, dim={_axis(c)})")


@register("Hardmax", since=13)
def hardmax(c: NodeCtx) -> None:
    x = c.x(0)
    ax = _axis(c)
    c.out(f"F.one_hot(torch.argmax({x}, dim={ax}), {x}.shape[{ax}]).movedim(-1, {ax}).to({x}.dtype)")
