"""Activations and the softmax family."""

from __future__ import annotations

import math

from ..registry import register
from .common import NodeCtx, lit, norm_axis


def _simple(template: str):
    def handler(c: NodeCtx) -> None:
        c.out(template.format(x=c.x(0)))
    return handler


register("Relu")(_simple("tf.nn.relu({x})"))
register("Sigmoid")(_simple("tf.math.sigmoid({x})"))
register("Tanh")(_simple("tf.math.tanh({x})"))
register("Softplus")(_simple("tf.math.softplus({x})"))
register("Softsign")(_simple("tf.nn.softsign({x})"))
register("Mish", since=18)(_simple("{x} * tf.math.tanh(tf.math.softplus({x}))"))


def _f(c: NodeCtx, name: str, default: float) -> str:
    return lit(float(c.attr(name, default)))


@register("LeakyRelu")
def leaky_relu(c: NodeCtx) -> None:
    c.out(f"tf.nn.leaky_relu({c.x(0)}, alpha={_f(c, 'alpha', 0.01)})")


@register("Elu")
def elu(c: NodeCtx) -> None:
    x, alpha = c.x(0), float(c.attr("alpha", 1.0))
    c.out(f"tf.nn.elu({x})" if alpha == 1.0 else f"tf.where({x} > 0, {x}, {lit(alpha)} * tf.math.expm1({x}))")


@register("Celu", since=12)
def celu(c: NodeCtx) -> None:
    x, a = c.x(0), _f(c, "alpha", 1.0)
    c.out(f"tf.nn.relu({x}) + tf.math.minimum({a} * tf.math.expm1({x} / {a}), 0.0)")


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875


@register("Selu")
def selu(c: NodeCtx) -> None:
    x = c.x(0)
    alpha, gamma = float(c.attr("alpha", _SELU_ALPHA)), float(c.attr("gamma", _SELU_GAMMA))
    if math.isclose(alpha, _SELU_ALPHA, rel_tol=1e-7) and math.isclose(gamma, _SELU_GAMMA, rel_tol=1e-7):
        c.out(f"tf.nn.selu({x})")
    else:
        c.out(f"{lit(gamma)} * tf.where({x} > 0, {x}, {lit(alpha)} * tf.math.expm1({x}))")


@register("HardSigmoid")
def hard_sigmoid(c: NodeCtx) -> None:
    c.out(f"tf.clip_by_value({_f(c, 'alpha', 0.2)} * {c.x(0)} + {_f(c, 'beta', 0.5)}, 0.0, 1.0)")


@register("HardSwish", since=14)
def hard_swish(c: NodeCtx) -> None:
    x = c.x(0)
    c.out(f"{x} * tf.nn.relu6({x} + 3.0) / 6.0")


@register("ThresholdedRelu", since=10)
def thresholded_relu(c: NodeCtx) -> None:
    x = c.x(0)
    c.out(f"tf.where({x} > {_f(c, 'alpha', 1.0)}, {x}, tf.zeros_like({x}))")


@register("Shrink", since=9)
def shrink(c: NodeCtx) -> None:
    x, lambd, bias = c.x(0), float(c.attr("lambd", 0.5)), float(c.attr("bias", 0.0))
    if c.dtype(0) in ("float32", "float64", "float16", "bfloat16"):
        lo, hi, zero = lit(-lambd), lit(lambd), "0.0"
        plus, minus = f"{x} + {lit(bias)}", f"{x} - {lit(bias)}"
    else:
        lo, hi, zero = lit(int(-lambd)), lit(int(lambd)), "0"
        plus, minus = f"{x} + {lit(int(bias))}", f"{x} - {lit(int(bias))}"
    c.out(f"tf.where({x} < {lo}, {plus}, tf.where({x} > {hi}, {minus}, tf.zeros_like({x}) + {zero}))")


@register("Gelu", since=20)
def gelu(c: NodeCtx) -> None:
    approx = c.attr("approximate", "none") == "tanh"
    c.out(f"tf.nn.gelu({c.x(0)}, approximate={approx})")


@register("Swish", since=24)
def swish(c: NodeCtx) -> None:
    alpha = float(c.attr("alpha", 1.0))
    c.out(f"tf.nn.silu({c.x(0)})" if alpha == 1.0 else f"tf.nn.silu({c.x(0)}, beta={lit(alpha)})")


@register("PRelu")
def prelu(c: NodeCtx) -> None:
    x = c.x(0)
    c.out(f"tf.where({x} < 0, {x} * {c.x(1)}, {x})")


@register("Clip")
def clip(c: NodeCtx) -> None:
    expr = c.x(0)
    lo = c.scalar(1) if c.has(1) else None
    hi = c.scalar(2) if c.has(2) else None
    if c.has(1):
        expr = f"tf.math.maximum({expr}, {lit(lo) if lo is not None else c.x(1)})"
    if c.has(2):
        expr = f"tf.math.minimum({expr}, {lit(hi) if hi is not None else c.x(2)})"
    if lo == 0 and hi == 6 and c.dtype(0) == "float32":
        expr = f"tf.nn.relu6({c.x(0)})"
    c.out(expr if expr != c.x(0) else f"tf.identity({expr})")


def _softmax(fn: str):
    def handler(c: NodeCtx) -> None:
        axis = norm_axis(int(c.attr("axis", -1)), c.rank(0))
        r = c.rank(0)
        c.out(f"{fn}({c.x(0)}, axis={axis})" if r is None or axis != r - 1 else f"{fn}({c.x(0)})")
    return handler


register("Softmax", since=13)(_softmax("tf.nn.softmax"))
register("LogSoftmax", since=13)(_softmax("tf.nn.log_softmax"))


@register("Hardmax", since=13)
def hardmax(c: NodeCtx) -> None:
    r = c.need_rank(0)
    axis = norm_axis(int(c.attr("axis", -1)), r)
    x = c.x(0)
    c.out(f"tf.one_hot(tf.math.argmax({x}, axis={axis}), tf.shape({x})[{axis}], axis={-1 if axis == r - 1 else axis}, "
          f"dtype={x}.dtype)")
