"""Linear algebra: MatMul (``nn.Linear`` when the right side is a weight), Gemm, Einsum, Det,
integer and quantized matmuls."""

from __future__ import annotations

from ..dialect import NodeCtx, lit, sanitize, torch_dtype
from ..registry import register
from .conv import _param_base


def _linear(c: NodeCtx, weight, bias, base_input: int) -> str:
    """An nn.Linear holding ``weight`` (out, in) and ``bias``."""
    dt = str(weight.dtype)
    extra = "" if dt == "float32" else f", dtype={torch_dtype(dt)}"
    return c.module(f"nn.Linear({weight.shape[1]}, {weight.shape[0]}{'' if bias is not None else ', bias=False'}{extra})",
                    {"weight": weight, "bias": bias}, base=_param_base(c, base_input))


def _bias_add(c: NodeCtx, n_out: int):
    """The Add node that adds a constant bias of ``n_out`` values to this node's only use."""
    g = c.scope.graph
    out = c.node.outputs[0]
    users = g.consumers(out)
    if len(users) != 1 or out in g.outputs:
        return None, None
    add = users[0]
    if add.op_type != "Add" or add.domain not in ("", "ai.onnx") or len(add.inputs) != 2:
        return None, None
    other = add.inputs[1] if add.inputs[0] == out else add.inputs[0]
    bias = c.scope.const_of(other)
    if bias is None or bias.shape != (n_out,) or bias.dtype != c.const(1).dtype:
        return None, None
    return add, bias


@register("MatMul")
def matmul(c: NodeCtx) -> None:
    b = c.const(1)
    ra = c.rank(0)
    # a constant right side becomes nn.Linear (holding it transposed); a source's own parameter
    # keeps its shape instead (GPT-2's Conv1D stores (in, out)), so its state dict still loads
    if b is not None and b.ndim == 2 and b.dtype.kind == "f" and ra is not None and ra >= 2 and b.size >= 64 \
            and not c.cg.is_source_state(c.node.inputs[1]):
        add, bias = _bias_add(c, b.shape[1])
        base = _param_base(c, 1)
        if add is not None:
            name = add.inputs[1] if add.inputs[0] == c.node.outputs[0] else add.inputs[0]
            if base is None:
                base = add.name
                if len(c.scope.graph.consumers(name)) <= 1:
                    for suffix in (".bias", "_bias"):
                        if name.endswith(suffix):
                            base = name[: -len(suffix)]
            c.base = sanitize(add.name)
            # the Add is written into this statement: nn.Linear adds the bias
            c.cg.absorbed[add.name] = (add.outputs[0], c.node.outputs[0])
        w = b.T
        dt = str(w.dtype)
        extra = "" if dt == "float32" else f", dtype={torch_dtype(dt)}"
        mod = c.module(f"nn.Linear({w.shape[1]}, {w.shape[0]}{'' if add is not None else ', bias=False'}{extra})",
                       {"weight": w, "bias": None if add is None else bias.copy()}, base=base)
        c.out(f"{mod}({c.x(0)})")
        return
    c.out(f"torch.matmul({c.x(0)}, {c.x(1)})")


@register("Gemm")
def gemm(c: NodeCtx) -> None:
    alpha, beta = float(c.attr("alpha", 1.0)), float(c.attr("beta", 1.0))
    ta, tb = int(c.attr("transA", 0)), int(c.attr("transB", 0))
    b, bias = c.const(1), c.const(2) if c.has(2) else None
    if b is not None and not ta and alpha == 1.0 and b.dtype.kind == "f" and \
            (tb or not c.cg.is_source_state(c.node.inputs[1])) and \
            (not c.has(2) or bias is not None and beta == 1.0 and bias.size == (b.shape[0] if tb else b.shape[1])
             and bias.ndim <= 2 and bias.shape[-1] == bias.size):
        w = b if tb else b.T
        mod = _linear(c, w, None if bias is None else bias.reshape(-1), 1)
        c.out(f"{mod}({c.x(0)})")
        return
    a = c.x(0) + (".t()" if ta else "")
    bb = c.x(1) + (".t()" if tb else "")
    expr = f"{a} @ {bb}"
    if alpha != 1.0:
        expr = f"{lit(alpha)} * ({expr})"
    if c.has(2):
        cc = c.x(2)
        expr = f"{expr} + {cc}" if beta == 1.0 else f"{expr} + {lit(beta)} * {cc}"
    c.out(expr)


@register("Einsum", since=12)
def einsum(c: NodeCtx) -> None:
    xs = ", ".join(c.x(i) for i in range(c.n_in) if c.has(i))
    c.out(f"torch.einsum({c.attr('equation')!r}, {xs})")


@register("Det", since=11)
def det(c: NodeCtx) -> None:
    c.out(f"torch.linalg.det({c.x(0)})")


@register("MatMulInteger", since=10)
def matmul_integer(c: NodeCtx) -> None:
    a = c.x(0) + ".int()"
    b = c.x(1) + ".int()"
    if c.has(2):
        a = f"({a} - {c.x(2)}.int())"
    if c.has(3):
        b = f"({b} - {c.x(3)}.int())"
    c.out(f"torch.matmul({a}.double(), {b}.double()).int()")


@register("QLinearMatMul", since=10)
def qlinear_matmul(c: NodeCtx) -> None:
    h = c.helper("qlinear_matmul")
    c.out(f"{h}({', '.join(c.x(i) for i in range(8))})")
