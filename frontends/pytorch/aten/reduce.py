"""Reductions: sum, mean, amax/amin, max/min (with indices), argmax/argmin, prod,
var/std, any/all, logsumexp, norms, cumsum."""

from __future__ import annotations

from . import aten, unmapped
from .common import axes, axis, int_list


def _reduce(c, op: str, x, dims, keepdim, dtype: str | None = None):
    r = c.rank(x)
    dims = int_list(dims)
    inputs = [c.x(x, dtype or c.out_dtype())]
    if dims:
        inputs.append(c.ints(axes(dims, r)))
    if r == 0:
        return c.identity(x) if (dtype or c.out_dtype()) == c.dtype(x) else c.out("Cast", [inputs[0]], to=_onnx(c.out_dtype()))
    return c.out(op, inputs, keepdims=int(bool(keepdim)))


@aten("sum.dim_IntList", "sum.default")
def sum_(c):
    return _reduce(c, "ReduceSum", c["self"], c.get("dim"), c.get("keepdim", False))


@aten("mean.dim", "mean.default")
def mean(c):
    return _reduce(c, "ReduceMean", c["self"], c.get("dim"), c.get("keepdim", False))


@aten("amax.default", "max.default")
def amax(c):
    if c.out_dtype() == "bool":
        return _bool_reduce(c, "ReduceMax")
    return _reduce(c, "ReduceMax", c["self"], c.get("dim"), c.get("keepdim", False))


@aten("amin.default", "min.default")
def amin(c):
    if c.out_dtype() == "bool":
        return _bool_reduce(c, "ReduceMin")
    return _reduce(c, "ReduceMin", c["self"], c.get("dim"), c.get("keepdim", False))


@aten("prod.dim_int", "prod.default")
def prod(c):
    return _reduce(c, "ReduceProd", c["self"], c.get("dim"), c.get("keepdim", False))


@aten("logsumexp.default")
def logsumexp(c):
    return _reduce(c, "ReduceLogSumExp", c["self"], c.get("dim"), c.get("keepdim", False))


def _bool_reduce(c, op):
    x = c["self"]
    r = c.rank(x)
    ints = c.x(x, "int32")
    inputs = [ints] + ([c.ints(axes(int_list(c.get("dim")), r))] if int_list(c.get("dim")) else [])
    red = c.op(op, inputs, keepdims=int(bool(c.get("keepdim", False))))
    return c.out("Cast", [red], to=_onnx("bool"))


@aten("any.default", "any.dim", "any.dims")
def any_(c):
    return _bool_reduce(c, "ReduceMax")


@aten("all.default", "all.dim", "all.dims")
def all_(c):
    return _bool_reduce(c, "ReduceMin")


def _arg(c, op):
    x = c["self"]
    d = c.get("dim")
    keep = int(bool(c.get("keepdim", False)))
    src = c.x(x)
    if d is None:
        src = c.op("Reshape", [src, c.ints([-1], "shape")])
        return c.out(op, [src], axis=0, keepdims=0)
    return c.out(op, [src], axis=axis(d, c.rank(x)), keepdims=keep)


@aten("argmax.default")
def argmax(c):
    return _arg(c, "ArgMax")


@aten("argmin.default")
def argmin(c):
    return _arg(c, "ArgMin")


@aten("max.dim", "min.dim")
def max_dim(c):
    x = c["self"]
    d = axis(c["dim"], c.rank(x))
    keep = int(bool(c.get("keepdim", False)))
    red, arg = ("ReduceMax", "ArgMax") if c.key == "aten.max.dim" else ("ReduceMin", "ArgMin")
    values = c.op(red, [c.x(x), c.ints([d])], keepdims=keep, _type=c.t.value_type(c.val[0]))
    indices = c.op(arg, [c.x(x)], axis=d, keepdims=keep, _type=c.t.value_type(c.val[1]))
    return [values, indices]


@aten("var.correction", "std.correction", "var_mean.correction", "var.dim", "std.dim", "var.default", "std.default")
def var(c):
    x = c["self"]
    r = c.rank(x)
    dims = axes(int_list(c.get("dim")) or None, r)
    keep = int(bool(c.get("keepdim", False)))
    correction = c.get("correction")
    if correction is None:
        correction = 1 if c.get("unbiased", True) else 0
    shape = c.shape(x)
    n = 1
    for d in dims:
        if not isinstance(shape[d], int):
            unmapped(c, "variance over a dynamic dim")
        n *= int(shape[d])
    dt = c.dtype(x)
    xs = c.x(x)
    is_std = c.key.startswith("aten.std")
    two = c.key == "aten.var_mean.correction"
    mean = c.op("ReduceMean", [xs, c.ints(dims)], keepdims=1)
    diff = c.op("Sub", [xs, mean])
    sq = c.op("Mul", [diff, diff])
    scale = n / (n - correction) if n > correction else float("inf")
    last = "mean" if correction == 0 and not is_std else "scale" if not is_std else "sqrt"
    write = (lambda *a, **k: c.op(*a, **k)) if two else c.out
    v = (write if last == "mean" else c.op)("ReduceMean", [sq, c.ints(dims)], keepdims=keep)
    if correction:
        v = (write if last == "scale" else c.op)("Mul", [v, c.x(scale, dt)])
    if is_std:
        v = write("Sqrt", [v])
    if two:
        m = mean if keep else c.op("ReduceMean", [xs, c.ints(dims)], keepdims=0)
        return [v, m]
    return v


@aten("linalg_vector_norm.default", "norm.ScalarOpt_dim", "norm.Scalar", "frobenius_norm.dim")
def norm(c):
    x = c["self"] if "self" in c.args else c["input"]
    ord_ = c.get("ord", c.get("p", 2))
    if ord_ == 2:
        op = "ReduceL2"
    elif ord_ == 1:
        op = "ReduceL1"
    else:
        unmapped(c, f"norm of order {ord_}")
    return _reduce(c, op, x, c.get("dim"), c.get("keepdim", False))


@aten("cumsum.default")
def cumsum(c):
    x = c["self"]
    d = axis(c["dim"], max(c.rank(x), 1))
    return c.out("CumSum", [c.x(x, c.out_dtype()), c.x(d, "int64")])


def _onnx(dtype: str) -> int:
    from mmconvert.ir import dtypes

    return dtypes.to_onnx(dtype)
