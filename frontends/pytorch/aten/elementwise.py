"""Elementwise arithmetic, comparisons, logic, unary math, where/clamp/masked_fill, casts."""

from __future__ import annotations

import math

from . import aten, unmapped
from .common import promoted


def _binary(c, op: str, a, b, dtype: str | None = None):
    dt = dtype or c.out_dtype()
    return c.out(op, [c.x(a, dt), c.x(b, dt)])


def _scaled(c, v, alpha, dtype):
    """``v * alpha`` (alpha of add/sub), without a node when alpha is 1."""
    if alpha in (None, 1):
        return c.x(v, dtype)
    if not isinstance(v, (int, float)):
        return c.op("Mul", [c.x(v, dtype), c.x(alpha, dtype)])
    return c.x(v * alpha, dtype)


@aten("add.Tensor", "add.Scalar")
def add(c):
    dt = c.out_dtype()
    if dt == "bool":
        return c.out("Or", [c.x(c["self"], dt), c.x(c["other"], dt)])
    return c.out("Add", [c.x(c["self"], dt), _scaled(c, c["other"], c.get("alpha", 1), dt)])


@aten("sub.Tensor", "sub.Scalar")
def sub(c):
    dt = c.out_dtype()
    return c.out("Sub", [c.x(c["self"], dt), _scaled(c, c["other"], c.get("alpha", 1), dt)])


@aten("rsub.Scalar", "rsub.Tensor")
def rsub(c):
    dt = c.out_dtype()
    return c.out("Sub", [c.x(c["other"], dt), _scaled(c, c["self"], c.get("alpha", 1), dt)])


@aten("mul.Tensor", "mul.Scalar")
def mul(c):
    if c.out_dtype() == "bool":
        return _binary(c, "And", c["self"], c["other"])
    return _binary(c, "Mul", c["self"], c["other"])


@aten("div.Tensor", "div.Scalar")
def div(c):
    return _binary(c, "Div", c["self"], c["other"])


@aten("div.Tensor_mode", "div.Scalar_mode", "floor_divide.default", "floor_divide.Scalar")
def div_mode(c):
    mode = c.get("rounding_mode", "floor" if c.key.startswith("aten.floor_divide") else None)
    dt = c.out_dtype()
    if mode is None:
        return _binary(c, "Div", c["self"], c["other"])
    if dt.startswith("float") or dt == "bfloat16":
        q = c.op("Div", [c.x(c["self"], dt), c.x(c["other"], dt)])
        if mode == "floor":
            return c.out("Floor", [q])
        # trunc: x - fmod(x, 1)
        frac = c.op("Mod", [q, c.x(1.0, dt)], fmod=1)
        return c.out("Sub", [q, frac])
    if mode == "trunc":
        return _binary(c, "Div", c["self"], c["other"])
    # integer floor division, computed exactly in float64 for the sizes models use
    q = c.op("Div", [c.x(c["self"], "float64"), c.x(c["other"], "float64")])
    return c.out("Cast", [c.op("Floor", [q])], to=_onnx(dt))


@aten("remainder.Tensor", "remainder.Scalar", "remainder.Scalar_Tensor")
def remainder(c):
    dt = c.out_dtype()
    a, b = c.x(c["self"], dt), c.x(c["other"], dt)
    if dt in ("float32", "float64", "float16", "bfloat16"):
        # Python's modulo (sign of the divisor): a - floor(a / b) * b
        q = c.op("Floor", [c.op("Div", [a, b])])
        return c.out("Sub", [a, c.op("Mul", [q, b])])
    return c.out("Mod", [a, b], fmod=0)


@aten("fmod.Tensor", "fmod.Scalar")
def fmod(c):
    dt = c.out_dtype()
    return c.out("Mod", [c.x(c["self"], dt), c.x(c["other"], dt)], fmod=1)


@aten("pow.Tensor_Scalar", "pow.Tensor_Tensor", "pow.Scalar")
def pow_(c):
    dt = c.out_dtype()
    exp = c["exponent"]
    if exp == 2 and c.key == "aten.pow.Tensor_Scalar":
        x = c.x(c["self"], dt)
        return c.out("Mul", [x, x])
    if exp == 0.5 and c.key == "aten.pow.Tensor_Scalar":
        return c.out("Sqrt", [c.x(c["self"], dt)])
    return c.out("Pow", [c.x(c["self"], dt), c.x(exp, dt)])


@aten("square.default")
def square(c):
    x = c.x(c["self"], c.out_dtype())
    return c.out("Mul", [x, x])


@aten("maximum.default", "max.other")
def maximum(c):
    return _binary(c, "Max", c["self"], c["other"])


@aten("minimum.default", "min.other")
def minimum(c):
    return _binary(c, "Min", c["self"], c["other"])


_COMPARE = {"eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual"}


@aten(*[f"{k}.{o}" for k in (*_COMPARE, "ne") for o in ("Tensor", "Scalar")])
def compare(c):
    kind = c.key.split(".")[1]
    dt = promoted(c, c["self"], c["other"])
    a, b = c.x(c["self"], dt), c.x(c["other"], dt)
    if kind == "ne":
        return c.out("Not", [c.op("Equal", [a, b])])
    return c.out(_COMPARE[kind], [a, b])


_LOGIC = {"and": ("And", "BitwiseAnd"), "or": ("Or", "BitwiseOr"), "xor": ("Xor", "BitwiseXor")}


@aten(*[f"{kind}_{name}.{o}" for kind in ("logical", "bitwise") for name in _LOGIC for o in ("Tensor", "Scalar", "default")
        if not (kind == "logical" and o != "default") and not (kind == "bitwise" and o == "default")],
      *[f"__{name}__.{o}" for name in _LOGIC for o in ("Tensor", "Scalar")])
def logical(c):
    name = c.key.split(".")[1].strip("_").split("_")[-1]
    logic, bitwise = _LOGIC[name]
    dt = c.out_dtype()
    if dt != "bool":
        return _binary(c, bitwise, c["self"], c["other"])
    return c.out(logic, [c.x(c["self"], "bool"), c.x(c["other"], "bool")])


@aten("logical_not.default", "bitwise_not.default")
def logical_not(c):
    if c.out_dtype() == "bool":
        return c.out("Not", [c.x(c["self"], "bool")])
    return c.out("BitwiseNot", [c.x(c["self"])])


_UNARY = {
    "abs": "Abs", "neg": "Neg", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "sin": "Sin", "cos": "Cos", "tan": "Tan",
    "asin": "Asin", "acos": "Acos", "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh",
    "atanh": "Atanh", "tanh": "Tanh", "sigmoid": "Sigmoid", "erf": "Erf", "floor": "Floor", "ceil": "Ceil",
    "round": "Round", "sign": "Sign", "reciprocal": "Reciprocal", "isnan": "IsNaN", "relu": "Relu",
}


@aten(*[f"{k}.default" for k in _UNARY])
def unary(c):
    kind = c.key.split(".")[1]
    if kind in ("floor", "ceil", "round") and c.dtype(c["self"]) not in ("float32", "float64", "float16", "bfloat16"):
        return c.identity(c["self"])  # integers are already whole
    if kind == "isnan":
        return c.out("IsNaN", [c.x(c["self"])])
    if kind == "abs" and c.dtype(c["self"]) == "bool":
        return c.identity(c["self"])
    return c.out(_UNARY[kind], [c.x(c["self"], c.out_dtype())])


@aten("isinf.default")
def isinf(c):
    return c.out("IsInf", [c.x(c["self"])])


@aten("rsqrt.default")
def rsqrt(c):
    return c.out("Reciprocal", [c.op("Sqrt", [c.x(c["self"], c.out_dtype())])])


@aten("log1p.default")
def log1p(c):
    dt = c.out_dtype()
    return c.out("Log", [c.op("Add", [c.x(c["self"], dt), c.x(1.0, dt)])])


@aten("expm1.default")
def expm1(c):
    dt = c.out_dtype()
    return c.out("Sub", [c.op("Exp", [c.x(c["self"], dt)]), c.x(1.0, dt)])


@aten("log2.default", "log10.default")
def log_base(c):
    dt = c.out_dtype()
    base = 2.0 if c.key == "aten.log2.default" else 10.0
    return c.out("Div", [c.op("Log", [c.x(c["self"], dt)]), c.x(math.log(base), dt)])


@aten("where.self", "where.ScalarOther", "where.ScalarSelf", "where.Scalar")
def where(c):
    dt = c.out_dtype()
    return c.out("Where", [c.x(c["condition"], "bool"), c.x(c["self"], dt), c.x(c["other"], dt)])


@aten("masked_fill.Scalar", "masked_fill.Tensor")
def masked_fill(c):
    dt = c.out_dtype()
    return c.out("Where", [c.x(c["mask"], "bool"), c.x(c["value"], dt), c.x(c["self"], dt)])


@aten("clamp.default", "clamp.Tensor", "clamp_min.default", "clamp_max.default", "clamp_min.Tensor",
      "clamp_max.Tensor")
def clamp(c):
    dt = c.out_dtype()
    lo = c.get("min") if "clamp_max" not in c.key else None
    hi = c.get("max") if "clamp_min" not in c.key else None
    x = c.x(c["self"], dt)
    if (lo is None or isinstance(lo, (int, float))) and (hi is None or isinstance(hi, (int, float))):
        return c.out("Clip", [x, c.x(lo, dt) if lo is not None else "", c.x(hi, dt) if hi is not None else ""])
    if lo is not None:
        x = c.op("Max", [x, c.x(lo, dt)]) if hi is not None else c.out("Max", [x, c.x(lo, dt)])
    if hi is not None:
        x = c.out("Min", [x, c.x(hi, dt)])
    return x


@aten("to.dtype", "to.dtype_layout", "to.device", "to.other", "_to_copy.default", "type_as.default",
      "_to_dim_order_copy.default")
def to(c):
    src = c["self"]
    want = c.out_dtype()
    if want is None:
        unmapped(c, "not a tensor")
    if c.dtype(src) == want:
        return c.identity(src)
    return c.out("Cast", [c.x(src)], to=_onnx(want))


@aten("lerp.Scalar", "lerp.Tensor")
def lerp(c):
    dt = c.out_dtype()
    a, b = c.x(c["self"], dt), c.x(c["end"], dt)
    return c.out("Add", [a, c.op("Mul", [c.op("Sub", [b, a]), c.x(c["weight"], dt)])])


def _onnx(dtype: str) -> int:
    from mmconvert.ir import dtypes

    return dtypes.to_onnx(dtype)
