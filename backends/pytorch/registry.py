"""The PyTorch backend's op registry: handlers keyed by (domain, op type) with the
range of opset versions each covers.

A handler is registered in the file of its op family (``ops/conv.py`` ...)::

    @register("Conv", "1-28")
    def conv(c: NodeCtx) -> None: ...

The IR is normalized to ``ir.opset.CANONICAL_OPSET``, so a node is looked up at the
version its graph imports for its domain; a range that contains that version is a hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ir.opset import CANONICAL_OPSET, is_default_domain


@dataclass(frozen=True)
class Entry:
    op_type: str
    domain: str
    first: int
    last: int
    handler: Callable


_REGISTRY: dict[tuple[str, str], list[Entry]] = {}


def _parse_range(versions: str) -> tuple[int, int]:
    lo, _, hi = versions.partition("-")
    return int(lo), int(hi) if hi else (int(lo) if _ else CANONICAL_OPSET)


def register(op_types: str | list[str], versions: str = f"1-{CANONICAL_OPSET}", domain: str = ""):
    """Decorator: register a handler for one or more op types over ``versions`` ("13-28")."""
    names = [op_types] if isinstance(op_types, str) else list(op_types)
    first, last = _parse_range(versions)

    def deco(fn):
        for name in names:
            _REGISTRY.setdefault((domain, name), []).append(Entry(name, domain, first, last, fn))
        return fn

    return deco


def lookup(op_type: str, domain: str, version: int | None) -> Callable | None:
    domain = "" if is_default_domain(domain) else domain
    for entry in _REGISTRY.get((domain, op_type), ()):
        if version is None or entry.first <= version <= entry.last:
            return entry.handler
    return None


def entries() -> dict[tuple[str, str], list[Entry]]:
    return _REGISTRY
