"""Op registries of the code-emitting backends: handlers keyed by (domain, op type) and
the opset version they start at.

A handler is registered in the file of its op family::

    REGISTRY = OpRegistry("pytorch")

    @REGISTRY.register("Conv")            # since opset 1
    @REGISTRY.register("Resize", since=11)
    def handler(c): ...

An entry holds from its ``since`` version until a later entry for the same op: a node is
resolved through the ONNX schemas to the version of the op it really is (a graph at
opset 28 holds Conv-22) and gets the newest entry that started at or before it.  No entry
names an upper bound, so raising the canonical opset keeps every handler that the
schema change does not concern.  Registering the same (op, since) twice is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mmconvert.ir.opset import get_schema, is_default_domain


@dataclass(frozen=True)
class Entry:
    op_type: str
    domain: str
    since: int
    handler: Callable


class OpRegistry:
    def __init__(self, target: str):
        self.target = target
        self._entries: dict[tuple[str, str], list[Entry]] = {}

    def register(self, op_types: str | list[str], since: int = 1, domain: str = ""):
        """Decorator: register a handler for one or more op types from opset ``since`` on."""
        names = [op_types] if isinstance(op_types, str) else list(op_types)
        domain = "" if is_default_domain(domain) else domain
        if not isinstance(since, int) or since < 1:
            raise ValueError(f"since must be an opset version >= 1, got {since!r}")

        def deco(fn):
            for name in names:
                entries = self._entries.setdefault((domain, name), [])
                if any(e.since == since for e in entries):
                    raise ValueError(f"{self.target}: {name} is registered twice from opset {since}")
                entries.append(Entry(name, domain, since, fn))
                entries.sort(key=lambda e: e.since)
            return fn

        return deco

    def resolve(self, op_type: str, domain: str, version: int | None) -> Entry | None:
        """The entry for a node of ``op_type`` in a graph importing ``domain`` at ``version``."""
        domain = "" if is_default_domain(domain) else domain
        entries = self._entries.get((domain, op_type))
        if not entries:
            return None
        if version is None:
            return entries[-1]
        schema = get_schema(op_type, version, domain)
        if schema is not None:
            effective = schema.since_version
        elif domain == "":
            return None  # no such op at this opset
        else:
            effective = version  # a custom domain ONNX does not know
        found = None
        for e in entries:
            if e.since <= effective:
                found = e
        return found

    def lookup(self, op_type: str, domain: str, version: int | None) -> Callable | None:
        e = self.resolve(op_type, domain, version)
        return None if e is None else e.handler

    def entries(self) -> dict[tuple[str, str], list[Entry]]:
        return self._entries

    def supported(self) -> dict[str, list[str]]:
        """``{"Conv": ["1+"], "Resize": ["10", "11+"]}``: the opset versions each entry starts
        at ("N+": from N on, until a later entry)."""
        out: dict[str, list[str]] = {}
        for (domain, op), ents in sorted(self._entries.items()):
            key = f"{domain}::{op}" if domain else op
            labels = []
            for k, e in enumerate(ents):
                nxt = ents[k + 1].since if k + 1 < len(ents) else None
                labels.append(f"{e.since}+" if nxt is None else (f"{e.since}" if nxt == e.since + 1 else f"{e.since}-{nxt - 1}"))
            out[key] = labels
        return out
