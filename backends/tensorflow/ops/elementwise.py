"""Elementwise ops: arithmetic, comparison, logic, bitwise, math functions.

ONNX semantics TensorFlow spells differently: integer ``Div`` truncates toward zero
(``tf.truncatediv``; TensorFlow's ``/`` would return floats), ``Mod`` follows the
divisor's sign (``floormod``) or C's ``fmod`` (``truncatemod``), ``Pow`` may take an
exponent of another type.
"""

from __future__ import annotations

import numpy as np

from ..registry import register
from .common import INT_TYPES, NodeCtx, is_number, lit, operand, tf_dtype


def flat_operand(c: NodeCtx, i: int, other: int) -> str:
    """Input ``i``, a constant broadcast against input ``other``, without its leading 1-dims
    (the same result; TensorFlow's MatMul+Add fusion takes only a 1-D bias)."""
    v = c.const(i)
    r = c.rank(other)
    if v is not None and v.ndim >= 2 and v.size > 1 and r is not None and r >= v.ndim and v.shape[0] == 1:
        lead = next(k for k, d in enumerate(v.shape) if d != 1)
        return c.buffer(v.reshape(v.shape[lead:]), c.node.inputs[i])
    return operand(c, i, other)


def _binary(op: str):
    def handler(c: NodeCtx) -> None:
        a, b = flat_operand(c, 0, 1), flat_operand(c, 1, 0)
        if is_number(a) and is_number(b):
            a = c.x(0)
        c.out(f"{a} {op} {b}")
    return handler


register("Add")(_binary("+"))
register("Sub")(_binary("-"))
register("Mul")(_binary("*"))


@register("Div")
def div(c: NodeCtx) -> None:
    if c.dtype(0) in INT_TYPES:
        c.out(f"tf.truncatediv({c.x(0)}, {c.x(1)})")
        return
    _binary("/")(c)


@register("Mod")
def mod(c: NodeCtx) -> None:
    fn = "tf.truncatemod" if int(c.attr("fmod", 0)) else "tf.math.floormod"
    if c.dtype(0) in ("float16", "bfloat16"):  # no half-precision kernels: computed in float32
        c.out(f"tf.cast({fn}(tf.cast({c.x(0)}, tf.float32), tf.cast({c.x(1)}, tf.float32)), {c.x(0)}.dtype)")
        return
    c.out(f"{fn}({c.x(0)}, {c.x(1)})")


@register("Pow")
def pow_(c: NodeCtx) -> None:
    base, dt = c.x(0), c.dtype(0)
    s = c.scalar(1)
    if s is not None and (c.rank(1) or 0) <= (c.rank(0) or 0) and dt not in INT_TYPES:
        if s == 2:
            c.out(f"tf.math.square({base})")
        elif s == 0.5:
            c.out(f"tf.math.sqrt({base})")
        elif s == 1:
            c.out(f"tf.identity({base})")
        else:
            c.out(f"tf.math.pow({base}, {lit(float(s))})")
        return
    exp, edt = c.x(1), c.dtype(1)
    if dt in INT_TYPES and edt not in INT_TYPES:
        c.out(f"tf.cast(tf.math.pow(tf.cast({base}, tf.float64), tf.cast({exp}, tf.float64)), {tf_dtype(dt)})")
        return
    if edt != dt:
        exp = f"tf.cast({exp}, {base}.dtype)"
    c.out(f"tf.math.pow({base}, {exp})")


@register("Equal")
def equal(c: NodeCtx) -> None:
    c.out(f"tf.math.equal({c.x(0)}, {operand(c, 1, 0)})")


def _compare(op: str):
    def handler(c: NodeCtx) -> None:
        a, b = operand(c, 0, 1), operand(c, 1, 0)
        if is_number(a):
            a = c.x(0)
        c.out(f"{a} {op} {b}")
    return handler


for _op, _py in (("Less", "<"), ("Greater", ">"), ("LessOrEqual", "<="), ("GreaterOrEqual", ">=")):
    register(_op)(_compare(_py))


def _call(fn: str):
    def handler(c: NodeCtx) -> None:
        c.out(f"{fn}({', '.join(c.x(i) for i in range(c.n_in) if c.has(i))})")
    return handler


for _op, _fn in (("And", "tf.math.logical_and"), ("Or", "tf.math.logical_or"), ("Xor", "tf.math.logical_xor"),
                 ("BitwiseAnd", "tf.bitwise.bitwise_and"), ("BitwiseOr", "tf.bitwise.bitwise_or"),
                 ("BitwiseXor", "tf.bitwise.bitwise_xor")):
    register(_op)(_call(_fn))


@register("BitShift", since=11)
def bitshift(c: NodeCtx) -> None:
    left = c.attr("direction") == "LEFT"
    shift = c.const(1)
    bits = 8 * np.dtype(c.dtype(0) or "int64").itemsize
    if shift is not None and ((shift >= 0) & (shift < bits)).all():
        fn = "tf.bitwise.left_shift" if left else "tf.bitwise.right_shift"
        c.out(f"{fn}({c.x(0)}, {c.x(1)})")
    else:
        c.out(f"{c.helper('bitshift_onnx')}({c.x(0)}, {c.x(1)}, {left})")


def _variadic(kind: str):
    def handler(c: NodeCtx) -> None:
        xs = [c.x(i) for i in range(c.n_in) if c.has(i)]
        if len(xs) == 1:
            c.out(f"tf.identity({xs[0]})")
        elif kind in ("+", "mean"):
            expr = " + ".join(xs)
            c.out(expr if kind == "+" else f"({expr}) / {len(xs)}")
        else:
            expr = xs[0]
            for x in xs[1:]:
                expr = f"{kind}({expr}, {x})"
            c.out(expr)
    return handler


register("Sum")(_variadic("+"))
register("Mean")(_variadic("mean"))
register("Max")(_variadic("tf.math.maximum"))
register("Min")(_variadic("tf.math.minimum"))

_UNARY = {
    "Abs": "tf.math.abs", "Neg": "tf.math.negative", "Exp": "tf.math.exp", "Log": "tf.math.log",
    "Sqrt": "tf.math.sqrt", "Reciprocal": "tf.math.reciprocal", "Floor": "tf.math.floor", "Ceil": "tf.math.ceil",
    "Round": "tf.math.round", "Sin": "tf.math.sin", "Cos": "tf.math.cos", "Tan": "tf.math.tan", "Asin": "tf.math.asin",
    "Acos": "tf.math.acos", "Atan": "tf.math.atan", "Sinh": "tf.math.sinh", "Cosh": "tf.math.cosh",
    "Asinh": "tf.math.asinh", "Acosh": "tf.math.acosh", "Atanh": "tf.math.atanh", "Erf": "tf.math.erf",
    "Sign": "tf.math.sign", "Not": "tf.math.logical_not", "IsNaN": "tf.math.is_nan",
    "BitwiseNot": "tf.bitwise.invert",
}

for _op, _fn in _UNARY.items():
    register(_op)(_call(_fn))


@register("IsInf", since=10)
def isinf(c: NodeCtx) -> None:
    pos, neg, x = int(c.attr("detect_positive", 1)), int(c.attr("detect_negative", 1)), c.x(0)
    if pos and neg:
        c.out(f"tf.math.is_inf({x})")
    elif pos:
        c.out(f"tf.math.logical_and(tf.math.is_inf({x}), {x} > 0)")
    elif neg:
        c.out(f"tf.math.logical_and(tf.math.is_inf({x}), {x} < 0)")
    else:
        c.out(f"tf.zeros_like({x}, dtype=tf.bool)")


@register("Where")
def where(c: NodeCtx) -> None:
    c.out(f"tf.where({c.x(0)}, {c.x(1)}, {c.x(2)})")
