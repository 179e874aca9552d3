"""Sequences (Python lists of tensors, of a length known when the function is traced) and
optionals (a tensor or None)."""

from __future__ import annotations

from ..registry import register
from .common import NodeCtx, Val


def _pos(c: NodeCtx, i: int) -> str:
    s = c.scalar(i)
    return str(int(s)) if s is not None else f"int(tf.get_static_value({c.x(i)}))"


@register("SequenceEmpty", since=11)
def sequence_empty(c: NodeCtx) -> None:
    c.out("[]", kind="seq")


@register("SequenceConstruct", since=11)
def sequence_construct(c: NodeCtx) -> None:
    c.out(f"[{', '.join(c.x(i) for i in range(c.n_in))}]", kind="seq")


@register("SequenceInsert", since=11)
def sequence_insert(c: NodeCtx) -> None:
    s, t = c.seq(0), c.x(1)
    if c.has(2):
        p = _pos(c, 2)
        c.out(f"{s}[:{p}] + [{t}] + {s}[{p}:] if {p} != -1 else {s} + [{t}]", kind="seq")
    else:
        c.out(f"{s} + [{t}]", kind="seq")


@register("SequenceAt", since=11)
def sequence_at(c: NodeCtx) -> None:
    c.out(f"{c.seq(0)}[{_pos(c, 1)}]")


@register("SequenceErase", since=11)
def sequence_erase(c: NodeCtx) -> None:
    s = c.seq(0)
    p = _pos(c, 1) if c.has(1) else "-1"
    c.out(f"[t for k, t in enumerate({s}) if k != ({p}) % len({s})]", kind="seq")


@register("SequenceLength", since=11)
def sequence_length(c: NodeCtx) -> None:
    c.out(f"tf.constant(len({c.seq(0)}), tf.int64)")


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


@register("Optional", since=15)
def optional(c: NodeCtx) -> None:
    if c.has(0):
        c.alias(0, 0)
    else:
        c.bind(0, "None", "none", local=False)


@register("OptionalHasElement", since=18)
def optional_has_element(c: NodeCtx) -> None:
    if not c.has(0):
        c.out("tf.constant(False)")
        return
    v = c.val(0)
    c.out(f"tf.constant({v.expr} is not None)" if v.kind in ("none", "seq") or v.expr else "tf.constant(True)")


@register("OptionalGetElement", since=18)
def optional_get_element(c: NodeCtx) -> None:
    c.alias(0, 0)
