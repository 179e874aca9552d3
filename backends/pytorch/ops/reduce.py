"""Reductions: Reduce*, ArgMax/ArgMin, TopK, CumSum/CumProd."""

from __future__ import annotations

from ..dialect import NodeCtx, lit, torch_dtype
from ..registry import register

_INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _dims(c: NodeCtx):
    """(dims expression or None for identity, keepdim)."""
    keep = bool(c.attr("keepdims", 1))
    axes = c.int_list(1) if c.has(1) else None
    if c.has(1) and axes is None:
        return f"tuple({c.ints(1)})", keep
    if not axes:
        if c.attr("noop_with_empty_axes", 0):
            return None, keep
        r = c.rank(0)
        return (repr(tuple(range(r))) if r is not None else f"tuple(range({c.x(0)}.dim()))"), keep
    return (str(axes[0]) if len(axes) == 1 else repr(tuple(axes))), keep


def _reducer(template: str, int_cast: bool = False):
    def handler(c: NodeCtx) -> None:
        dims, keep = _dims(c)
        x = c.x(0)
        if dims is None:
            c.out(_identity(template, x))
            return
        if c.attr("noop_with_empty_axes", 0) and c.has(1) and c.const(1) is None:
            axes = c.ints(1)
            expr = template.format(x=x, dims=dims, keep=keep)
            c.out(f"({expr}) if len({axes}) else {_identity(template, x)}")
            return
        expr = template.format(x=x, dims=dims, keep=keep)
        dt = c.dtype(0)
        if int_cast and dt in _INTS + ("bool",) and dt != "int64":
            expr += f".to({torch_dtype(dt)})"
        empty = _maybe_empty(c)
        if empty is not None and c.node.op_type in ("ReduceMax", "ReduceMin"):
            h = c.helper("reduce_minmax_onnx")
            expr = f"{h}({x}, {dims}, {keep}, {c.node.op_type == 'ReduceMax'})"
        c.out(expr)
    return handler


def _maybe_empty(c: NodeCtx):
    s = c.shape(0)
    if s is None or any(d == 0 for d in s):
        return True
    return None


def _identity(template: str, x: str) -> str:
    # with no axes and noop_with_empty_axes the op is the identity, except for the
    # element-wise transform some reductions apply
    if template.startswith("torch.sum(torch.abs"):
        return f"torch.abs({x})"
    if template.startswith("torch.sum({x} * {x}"):
        return f"{x} * {x}"
    if template.startswith("torch.sqrt"):
        return f"torch.sqrt({x} * {x})"
    if template.startswith("torch.log(torch.sum"):
        return f"torch.log({x})"
    if template.startswith("torch.logsumexp"):
        return f"torch.log(torch.exp({x}))"
    return f"{x}.clone()"


register("ReduceSum", since=13)(_reducer("torch.sum({x}, dim={dims}, keepdim={keep})", True))
register("ReduceMean", since=18)(_reducer("torch.mean({x}, dim={dims}, keepdim={keep})"))
register("ReduceMax", since=18)(_reducer("torch.amax({x}, dim={dims}, keepdim={keep})"))
register("ReduceMin", since=18)(_reducer("torch.amin({x}, dim={dims}, keepdim={keep})"))
register("ReduceL1", since=18)(_reducer("torch.sum(torch.abs({x}), dim={dims}, keepdim={keep})", True))
register("ReduceL2", since=18)(_reducer("torch.sqrt(torch.sum({x} * {x}, dim={dims}, keepdim={keep}))", True))
register("ReduceSumSquare", since=18)(_reducer("torch.sum({x} * {x}, dim={dims}, keepdim={keep})", True))
register("ReduceLogSum", since=18)(_reducer("torch.log(torch.sum({x}, dim={dims}, keepdim={keep}))"))
register("ReduceLogSumExp", since=18)(_reducer("torch.logsumexp({x}, dim={dims}, keepdim={keep})"))


@register("ReduceProd", since=18)
def reduce_prod(c: NodeCtx) -> None:
    dims, keep = _dims(c)
    x = c.x(0)
    if dims is None:
        c.out(f"{x}.clone()")
        return
    h = c.helper("reduce_prod")
    expr = f"{h}({x}, {dims}, {keep})"
    dt = c.dtype(0)
    if dt in _INTS and dt != "int64":
        expr += f".to({torch_dtype(dt)})"
    c.out(expr)


def _arg(fn: str):
    def handler(c: NodeCtx) -> None:
        axis = int(c.attr("axis", 0))
        keep = bool(c.attr("keepdims", 1))
        x = c.x(0)
        if c.attr("select_last_index", 0):
            c.out(f"{x}.shape[{axis}] - 1 - {fn}({x}.flip({axis}), dim={axis}, keepdim={keep})")
        else:
            c.out(f"{fn}({x}, dim={axis}, keepdim={keep})")
    return handler


register("ArgMax", since=13)(_arg("torch.argmax"))
register("ArgMin", since=13)(_arg("torch.argmin"))


@register("TopK", since=11)
def topk(c: NodeCtx) -> None:
    axis = int(c.attr("axis", -1))
    largest = bool(c.attr("largest", 1))
    k = c.scalar(1)
    k = lit(k) if k is not None else f"{c.x(1)}.item()" if c.val(1).kind == "tensor" else f"{c.val(1).expr}[0]"
    h = c.helper("topk_onnx")
    c.outs(f"{h}({c.x(0)}, {k}, {axis}, {largest})")


@register("CumSum", since=11)
def cumsum(c: NodeCtx) -> None:
    h = c.helper("cum_onnx")
    s = c.scalar(1)
    ax = lit(int(s)) if s is not None else f"int({c.x(1)})"
    c.out(f"{h}({c.x(0)}, {ax}, {bool(c.attr('exclusive', 0))}, {bool(c.attr('reverse', 0))}, False)")


@register("CumProd", since=26)
def cumprod(c: NodeCtx) -> None:
    h = c.helper("cum_onnx")
    s = c.scalar(1)
    ax = lit(int(s)) if s is not None else f"int({c.x(1)})"
    c.out(f"{h}({c.x(0)}, {ax}, {bool(c.attr('exclusive', 0))}, {bool(c.attr('reverse', 0))}, True)")
