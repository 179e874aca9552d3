"""Sequences (Python lists of tensors, of a length known when the function is traced): the ops
that differ by framework (the list-only ones and optionals are shared: backends/codegen/pylists.py)."""

from __future__ import annotations

from ..registry import register
from .common import NodeCtx, Val


@register("SplitToSequence", since=11)
def split_to_sequence(c: NodeCtx) -> None:
    axis = int(c.attr("axis", 0))
    x = c.x(0)
    if c.has(1):
        sz = c.scalar(1)
        if sz is not None and c.rank(1) == 0:
            c.out(f"{c.helper('split_chunks')}({x}, {int(sz)}, {axis})", kind="seq")
        else:
            c.out(f"tf.split({x}, {c.x(1)}, axis={axis})", kind="seq")
    elif int(c.attr("keepdims", 1)):
        c.out(f"tf.split({x}, {x}.shape[{axis}], axis={axis})", kind="seq")
    else:
        c.out(f"tf.unstack({x}, axis={axis})", kind="seq")


@register("ConcatFromSequence", since=11)
def concat_from_sequence(c: NodeCtx) -> None:
    axis = int(c.attr("axis"))
    fn = "tf.stack" if int(c.attr("new_axis", 0)) else "tf.concat"
    c.out(f"{fn}({c.seq(0)}, axis={axis})")


@register("SequenceMap", since=17)
def sequence_map(c: NodeCtx) -> None:
    body = c.node.attrs["body"]
    k = c.tmp("k")
    fn = c.tmp("fn")
    params = [c.tmp(f"a{i}") for i in range(len(body.inputs))]
    lines, outs = c.body(body, {inp: Val(p) for inp, p in zip(body.inputs, params)})
    c.line(f"def {fn}({', '.join(params)}):")
    for ln in lines:
        c.line("    " + ln)
    c.line(f"    return [{', '.join(outs)}]")
    args = [f"{c.seq(i)}[{k}]" if c.val(i).kind == "seq" else c.x(i) for i in range(c.n_in)]
    rows = c.tmp("rows")
    c.line(f"{rows} = [{fn}({', '.join(args)}) for {k} in range(len({c.seq(0)}))]")
    for j in range(len(c.node.outputs)):
        c.out(f"[r[{j}] for r in {rows}]", j=j, kind="seq")


