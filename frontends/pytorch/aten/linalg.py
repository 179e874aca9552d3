"""Matrix products: linear (as ``MatMul(x, Transpose(W)) + b``, which the PyTorch backend
writes back as ``nn.Linear`` holding ``W`` under its own name), addmm, mm, bmm, matmul,
baddbmm, einsum."""

from __future__ import annotations

from . import aten


@aten("linear.default")
def linear(c):
    x, w, b = c["input"], c["weight"], c.get("bias")
    dt = c.out_dtype()
    wshape = c.shape(w)
    if len(wshape) == 2:
        wt = c.op("Transpose", [c.x(w)], perm=[1, 0], _type=c.vtype(c.dtype(w), [wshape[1], wshape[0]]))
    else:
        wt = c.x(w)
    if b is None:
        return c.out("MatMul", [c.x(x, dt), wt])
    mm = c.op("MatMul", [c.x(x, dt), wt], _type=c.t.value_type(c.val))
    return c.out("Add", [mm, c.x(b, dt)])


@aten("addmm.default")
def addmm(c):
    dt = c.out_dtype()
    beta, alpha = c.get("beta", 1), c.get("alpha", 1)
    a, b, bias = c.x(c["mat1"], dt), c.x(c["mat2"], dt), c.x(c["self"], dt)
    if beta == 1 and alpha == 1:
        mm = c.op("MatMul", [a, b], _type=c.t.value_type(c.val))
        return c.out("Add", [mm, bias])
    return c.out("Gemm", [a, b, bias], alpha=float(alpha), beta=float(beta))


@aten("mm.default", "bmm.default", "matmul.default")
def matmul(c):
    dt = c.out_dtype()
    return c.out("MatMul", [c.x(c["self"], dt), c.x(c["other"] if "other" in c.args else c["mat2"], dt)])


@aten("baddbmm.default")
def baddbmm(c):
    dt = c.out_dtype()
    beta, alpha = c.get("beta", 1), c.get("alpha", 1)
    mm = c.op("MatMul", [c.x(c["batch1"], dt), c.x(c["batch2"], dt)])
    if alpha != 1:
        mm = c.op("Mul", [mm, c.x(alpha, dt)])
    bias = c.x(c["self"], dt)
    if beta != 1:
        bias = c.op("Mul", [bias, c.x(beta, dt)])
    return c.out("Add", [mm, bias])


@aten("einsum.default")
def einsum(c):
    dt = c.out_dtype()
    return c.out("Einsum", [c.x(t, dt) for t in c["tensors"]], equation=c["equation"].replace(" ", ""))
