"""Helpers the op families share: axes, type promotion, reading int lists."""

from __future__ import annotations

import torch

from ..tensors import IR_DTYPE


def axis(d: int, rank: int) -> int:
    """A dim index made non-negative (``rank`` is the rank it indexes into)."""
    d = int(d)
    return d + rank if d < 0 else d


def axes(dims, rank: int) -> list[int]:
    if dims is None:
        return list(range(rank))
    if isinstance(dims, int):
        dims = [dims]
    return [axis(d, rank) for d in dims]


def promoted(c, a, b) -> str:
    """The dtype torch computes ``a (op) b`` in (tensors of rank 0 and Python numbers weigh less)."""

    def probe(v):
        m = c.meta(v)
        if isinstance(m, torch.Tensor):
            return torch.empty((1,) * min(m.dim(), 1), dtype=m.dtype)
        if isinstance(m, torch.SymInt):
            return 1
        if isinstance(m, torch.SymFloat):
            return 1.0
        if isinstance(m, torch.SymBool):
            return True
        return m

    pa, pb = probe(a), probe(b)
    if not isinstance(pa, torch.Tensor) and not isinstance(pb, torch.Tensor):
        pa = torch.tensor(pa)
    return IR_DTYPE[torch.result_type(pa, pb) if isinstance(pa, torch.Tensor) else torch.result_type(pb, pa)]


def int_list(v) -> list:
    """A size argument as a list (an int becomes a one-element list)."""
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    return [v]
