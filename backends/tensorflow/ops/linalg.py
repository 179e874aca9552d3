"""Matrix ops: MatMul, Gemm, Einsum, Det, MatMulInteger, QLinearMatMul."""

from __future__ import annotations

from ..registry import register
from .common import NodeCtx, lit


@register("MatMul")
def matmul(c: NodeCtx) -> None:
    ra, rb = c.rank(0), c.rank(1)
    if ra is None or rb is None or ra < 2 or rb < 2:
        c.out(f"{c.helper('matmul_onnx')}({c.x(0)}, {c.x(1)})")
    else:
        c.out(f"tf.linalg.matmul({c.x(0)}, {c.x(1)})")


@register("Gemm")
def gemm(c: NodeCtx) -> None:
    alpha, beta = float(c.attr("alpha", 1.0)), float(c.attr("beta", 1.0))
    args = [c.x(0), c.x(1)]
    if int(c.attr("transA", 0)):
        args.append("transpose_a=True")
    if int(c.attr("transB", 0)):
        args.append("transpose_b=True")
    expr = f"tf.linalg.matmul({', '.join(args)})"
    if alpha != 1.0:
        expr = f"{lit(alpha)} * {expr}"
    if c.has(2):
        bias = c.x(2)
        shape = c.shape(2)
        if shape is not None and len(shape) == 2 and shape[0] == 1:
            bias = f"tf.reshape({bias}, [-1])"  # TensorFlow's MatMul+Add fusion takes only a 1-D bias
        expr += f" + {bias}" if beta == 1.0 else f" + {lit(beta)} * {bias}"
    c.out(expr)


@register("Einsum", since=12)
def einsum(c: NodeCtx) -> None:
    eq = c.attr("equation").replace(" ", "")
    c.out(f"tf.einsum({eq!r}, {', '.join(c.x(i) for i in range(c.n_in))})")


@register("Det", since=11)
def det(c: NodeCtx) -> None:
    c.out(f"tf.linalg.det({c.x(0)})")


@register("MatMulInteger", since=10)
def matmul_integer(c: NodeCtx) -> None:
    a = f"tf.cast({c.x(0)}, tf.int32)"
    b = f"tf.cast({c.x(1)}, tf.int32)"
    if c.has(2):
        a = f"({a} - tf.cast({c.x(2)}, tf.int32))"
    if c.has(3):
        b = f"({b} - tf.cast({c.x(3)}, tf.int32))"
    c.out(f"{c.helper('matmul_onnx')}({a}, {b})")


@register("QLinearMatMul", since=10)
def qlinear_matmul(c: NodeCtx) -> None:
    c.out(f"{c.helper('qlinear_matmul')}({', '.join(c.x(i) for i in range(8))})")
