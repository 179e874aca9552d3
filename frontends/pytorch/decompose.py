"""Bring a captured program to what the ATen handlers take, paying only for what is needed.

``torch.export`` gives a graph that may still hold in-place ops (``add_``) and ops without
a handler.  Only then is ``run_decompositions`` run (it costs as much as the capture):
functionalization removes the mutations, and torch's default decomposition table,
restricted to the ops that have no handler, rewrites those into core ATen ops.  Ops with a
handler are never decomposed (``linear`` stays ``linear``, which keeps the module's name on
one node and the weight untransposed).
"""

from __future__ import annotations

import torch

from .aten import HANDLERS, target_key


def _needs(program) -> tuple[bool, set]:
    mutable = False
    unmapped = set()
    for n in program.graph.nodes:
        if n.op != "call_function" or not isinstance(n.target, torch._ops.OpOverload):
            continue
        if n.target._schema.is_mutable:
            mutable = True
        if target_key(n.target) not in HANDLERS and not _ignorable(n.target):
            unmapped.add(n.target)
    return mutable, unmapped


def _ignorable(op) -> bool:
    from .translate import _NO_OPS

    return str(op) in _NO_OPS or op._schema.name in ("aten::sym_size", "aten::sym_numel", "aten::sym_stride",
                                                     "aten::sym_storage_offset")


def prepare(program):
    """``program`` functionalized and with unmapped ops decomposed, when either is needed."""
    mutable, unmapped = _needs(program)
    if not mutable and not unmapped:
        return program
    table = torch.export.default_decompositions()
    for op in list(table.keys()):
        if target_key(op) in HANDLERS:
            del table[op]
    from .capture import quiet

    with quiet():
        return program.run_decompositions(table)
