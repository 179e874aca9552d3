"""Activations and softmax."""

from __future__ import annotations


from . import aten, unmapped
from .common import axis


@aten("gelu.default")
def gelu(c):
    return c.out("Gelu", [c.x(c["self"])], approximate=c.get("approximate", "none"))


@aten("silu.default")
def silu(c):
    x = c.x(c["self"])
    return c.out("Mul", [x, c.op("Sigmoid", [x], _type=c.t.value_type(c.val))])


@aten("hardswish.default")
def hardswish(c):
    return c.out("HardSwish", [c.x(c["self"])])


@aten("hardsigmoid.default")
def hardsigmoid(c):
    return c.out("HardSigmoid", [c.x(c["self"])], alpha=1.0 / 6, beta=0.5)


@aten("hardtanh.default", "relu6.default")
def hardtanh(c):
    dt = c.out_dtype()
    lo, hi = (0.0, 6.0) if c.key == "aten.relu6.default" else (float(c.get("min_val", -1.0)), float(c.get("max_val", 1.0)))
    return c.out("Clip", [c.x(c["self"]), c.x(lo, dt), c.x(hi, dt)])


@aten("leaky_relu.default")
def leaky_relu(c):
    return c.out("LeakyRelu", [c.x(c["self"])], alpha=float(c.get("negative_slope", 0.01)))


@aten("elu.default")
def elu(c):
    if c.get("scale", 1) != 1 or c.get("input_scale", 1) != 1:
        unmapped(c, "scaled ELU")
    return c.out("Elu", [c.x(c["self"])], alpha=float(c.get("alpha", 1.0)))


@aten("celu.default")
def celu(c):
    return c.out("Celu", [c.x(c["self"])], alpha=float(c.get("alpha", 1.0)))


@aten("selu.default")
def selu(c):
    return c.out("Selu", [c.x(c["self"])])


@aten("mish.default")
def mish(c):
    return c.out("Mish", [c.x(c["self"])])


@aten("softplus.default")
def softplus(c):
    dt = c.out_dtype()
    beta = float(c.get("beta", 1.0))
    x = c.x(c["self"])
    if beta == 1.0:
        return c.out("Softplus", [x])
    sp = c.op("Softplus", [c.op("Mul", [x, c.x(beta, dt)])])
    return c.out("Div", [sp, c.x(beta, dt)])


@aten("log_sigmoid.default", "log_sigmoid_forward.default")
def log_sigmoid(c):
    return c.out("Log", [c.op("Sigmoid", [c.x(c["self"])])])


@aten("prelu.default", "_prelu_kernel.default")
def prelu(c):
    x, w = c["self"], c["weight"]
    r = c.rank(x)
    slope = c.x(w)
    if c.rank(w) == 1 and r > 2:
        n = c.shape(w)[0]
        slope = c.op("Reshape", [slope, c.ints([n] + [1] * (r - 2), "shape")])
    return c.out("PRelu", [c.x(x), slope])


@aten("glu.default")
def glu(c):
    x = c["self"]
    d = axis(c.get("dim", -1), c.rank(x))
    a, b = c.op("Split", [c.x(x)], n_out=2, axis=d, num_outputs=2)
    return c.out("Mul", [a, c.op("Sigmoid", [b])])


@aten("_softmax.default", "softmax.int", "_safe_softmax.default")
def softmax(c):
    x = c["self"]
    d = axis(c["dim"], c.rank(x))
    return c.out("Softmax", [c.x(x, c.out_dtype())], axis=d)


@aten("_log_softmax.default", "log_softmax.int")
def log_softmax(c):
    x = c["self"]
    d = axis(c["dim"], c.rank(x))
    return c.out("LogSoftmax", [c.x(x, c.out_dtype())], axis=d)


@aten("threshold.default")
def threshold(c):
    dt = c.out_dtype()
    x = c.x(c["self"])
    return c.out("Where", [c.op("Greater", [x, c.x(c["threshold"], dt)]), x, c.x(c["value"], dt)])


