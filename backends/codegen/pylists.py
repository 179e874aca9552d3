"""Handlers every code-emitting dialect shares: sequences are Python lists and optionals a
value or ``None`` in emitted code, whatever the framework, so their ops are written once
here; Dropout at inference and Identity are aliases.  A dialect registers them with
:func:`register_all` and supplies two spellings (``Dialect.python_tensor``,
``Dialect.python_int``)."""

from __future__ import annotations

from .core import NodeCtx
from .registry import OpRegistry


def _pos(c: NodeCtx, i: int) -> str:
    """A sequence position as a Python int expression."""
    s = c.scalar(i)
    if s is not None:
        return str(int(s))
    v = c.val(i)
    return v.expr if v.kind == "int" else c.dialect.python_int(c.x(i))


def sequence_empty(c: NodeCtx) -> None:
    c.out("[]", kind="seq")


def sequence_construct(c: NodeCtx) -> None:
    c.out(f"[{', '.join(c.x(i) for i in range(c.n_in))}]", kind="seq")


def sequence_insert(c: NodeCtx) -> None:
    s, t = c.seq(0), c.x(1)
    if c.has(2):
        p = _pos(c, 2)
        c.out(f"{s}[:{p}] + [{t}] + {s}[{p}:] if {p} != -1 else {s} + [{t}]", kind="seq")
    else:
        c.out(f"{s} + [{t}]", kind="seq")


def sequence_at(c: NodeCtx) -> None:
    c.out(f"{c.seq(0)}[{_pos(c, 1)}]")


def sequence_erase(c: NodeCtx) -> None:
    s = c.seq(0)
    p = _pos(c, 1) if c.has(1) else "-1"
    c.out(f"[t for k, t in enumerate({s}) if k != ({p}) % len({s})]", kind="seq")


def sequence_length(c: NodeCtx) -> None:
    c.out(c.dialect.python_tensor(f"len({c.seq(0)})", "int64"))


def optional(c: NodeCtx) -> None:
    if c.has(0):
        c.alias(0, 0)
    else:
        c.bind(0, "None", "none", local=False)


def optional_has_element(c: NodeCtx) -> None:
    if not c.has(0):
        c.out(c.dialect.python_tensor("False", "bool"))
        return
    v = c.val(0)
    present = f"{v.expr} is not None" if v.kind in ("none", "seq") or v.expr else "True"
    c.out(c.dialect.python_tensor(present, "bool"))


def alias(c: NodeCtx) -> None:
    c.alias(0, 0)


def dropout(c: NodeCtx) -> None:
    """Dropout at inference: the input itself; its mask (when asked for) all true."""
    if c.has(2):
        t = c.const(2)
        if t is None or bool(t.reshape(-1)[0]):
            c.fail("Dropout in training mode")
    c.alias(0, 0)
    if len(c.node.outputs) > 1 and c.node.outputs[1]:
        c.out(c.dialect.ones_like(c.x(0), "bool"), j=1)


HANDLERS = {
    ("SequenceEmpty", 11): sequence_empty, ("SequenceConstruct", 11): sequence_construct,
    ("SequenceInsert", 11): sequence_insert, ("SequenceAt", 11): sequence_at, ("SequenceErase", 11): sequence_erase,
    ("SequenceLength", 11): sequence_length, ("Optional", 15): optional,
    ("OptionalHasElement", 18): optional_has_element, ("OptionalGetElement", 18): alias,
    ("Identity", 1): alias, ("Dropout", 1): dropout,
}


def register_all(registry: OpRegistry) -> None:
    for (op, since), handler in HANDLERS.items():
        registry.register(op, since=since)(handler)
