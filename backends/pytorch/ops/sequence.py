"""Sequences (Python lists of tensors) and optionals (a tensor or None)."""

from __future__ import annotations

from ..emitter import NodeCtx, Val
from ..registry import register
from .control import _IND, emit_body


def _pos(c: NodeCtx, i: int) -> str:
    s = c.scalar(i)
    if s is not None:
        return str(int(s))
    v = c.val(i)
    return v.expr if v.kind == "int" else f"int({c.x(i)})"


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
    c.out(f"torch.tensor(len({c.seq(0)}))")


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


@register("Optional", since=15)
def optional(c: NodeCtx) -> None:
    if c.has(0):
        c.alias(0, 0)
    else:
        c.bind(0, "None", "none", local=False)


@register("OptionalHasElement", since=18)
def optional_has_element(c: NodeCtx) -> None:
    if not c.has(0):
        c.out("torch.tensor(False)")
        return
    v = c.val(0)
    c.out(f"torch.tensor({v.expr} is not None)" if v.kind in ("none", "seq") or v.expr else "torch.tensor(True)")


@register("OptionalGetElement", since=18)
def optional_get_element(c: NodeCtx) -> None:
    c.alias(0, 0)
