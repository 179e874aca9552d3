"""Sequences (Python lists of tensors): the ops that differ by framework (the list-only ones and
optionals are shared: backends/codegen/pylists.py)."""

from __future__ import annotations

from ..dialect import NodeCtx, Val
from ..registry import register
from .control import _IND, emit_body


@register("SplitToSequence", since=11)
def split_to_sequence(c: NodeCtx) -> None:
    axis = int(c.attr("axis", 0))
    x = c.x(0)
    if c.has(1):
        sz = c.scalar(1)
        split = str(int(sz)) if sz is not None and c.rank(1) == 0 else c.ints(1)
        c.out(f"list(torch.split({x}, {split}, dim={axis}))", kind="seq")
    elif int(c.attr("keepdims", 1)):
        c.out(f"list(torch.split({x}, 1, dim={axis}))", kind="seq")
    else:
        c.out(f"list(torch.unbind({x}, dim={axis}))", kind="seq")


@register("ConcatFromSequence", since=11)
def concat_from_sequence(c: NodeCtx) -> None:
    axis = int(c.attr("axis"))
    if int(c.attr("new_axis", 0)):
        c.out(f"torch.stack({c.seq(0)}, dim={axis})")
    else:
        c.out(f"torch.cat({c.seq(0)}, dim={axis})")


@register("SequenceMap", since=17)
def sequence_map(c: NodeCtx) -> None:
    body = c.node.attrs["body"]
    n_out = len(c.node.outputs)
    results = [c.var(j) for j in range(n_out)]
    for r in results:
        c.line(f"{r} = []")
    k = c.tmp("k")
    first = c.seq(0)
    c.line(f"for {k} in range(len({first})):")
    bind = {}
    for i, inp in enumerate(body.inputs):
        v = c.val(i)
        if v.kind == "seq":
            bind[inp] = Val(f"{v.expr}[{k}]", "tensor")
        else:
            bind[inp] = Val(c.x(i), "tensor")
    lines, outs = emit_body(c, body, bind)
    for ln in lines:
        c.line(_IND + ln)
    for r, e in zip(results, outs):
        c.line(f"{_IND}{r}.append({e})")
    for j, r in enumerate(results):
        c.bind(j, r, "seq")


