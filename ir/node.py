"""An operation in the IR: an ONNX op type in a domain, with inputs, outputs and attributes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from .graph import Graph

# ONNX attribute type names (AttributeProto.AttributeType)
ATTR_TYPES = (
    "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "SPARSE_TENSOR", "TYPE_PROTO",
    "FLOATS", "INTS", "STRINGS", "TENSORS", "GRAPHS", "SPARSE_TENSORS", "TYPE_PROTOS",
)


@dataclass
class Node:
    """One operation.

    ``inputs`` holds tensor names in slot order, ``""`` for an omitted optional input.
    ``attrs`` maps attribute names to Python values (int, float, str/bytes, lists,
    numpy arrays for tensors, :class:`ir.Graph` for subgraphs); ``attr_types`` keeps
    the ONNX attribute type of each so that ``1`` and ``1.0`` or an empty list
    survive a round trip.
    """

    name: str
    op_type: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    attr_types: dict[str, str] = field(default_factory=dict)
    domain: str = ""
    doc_string: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def set_attr(self, name: str, value: Any, attr_type: str | None = None) -> None:
        self.attrs[name] = value
        self.attr_types[name] = attr_type or infer_attr_type(value)

    def del_attr(self, name: str) -> Any:
        self.attr_types.pop(name, None)
        return self.attrs.pop(name, None)

    def subgraphs(self) -> Iterator[tuple[str, "Graph"]]:
        """(attribute name, graph) for each GRAPH / GRAPHS attribute."""
        for key, kind in self.attr_types.items():
            if kind == "GRAPH":
                yield key, self.attrs[key]
            elif kind == "GRAPHS":
                for g in self.attrs[key]:
                    yield key, g

    @property
    def qualified_op(self) -> str:
        return f"{self.domain}::{self.op_type}" if self.domain not in ("", "ai.onnx") else self.op_type


def infer_attr_type(value: Any) -> str:
    """ONNX attribute type for a Python value (used when a pass sets an attribute)."""
    import numpy as np

    from .graph import Graph

    if isinstance(value, bool) or isinstance(value, (int, np.integer)):
        return "INT"
    if isinstance(value, (float, np.floating)):
        return "FLOAT"
    if isinstance(value, (str, bytes)):
        return "STRING"
    if isinstance(value, np.ndarray):
        return "TENSOR"
    if isinstance(value, Graph):
        return "GRAPH"
    if isinstance(value, (list, tuple)):
        if not value:
            return "INTS"
        first = value[0]
        if isinstance(first, Graph):
            return "GRAPHS"
        if isinstance(first, np.ndarray):
            return "TENSORS"
        if isinstance(first, (str, bytes)):
            return "STRINGS"
        if any(isinstance(v, (float, np.floating)) for v in value):
            return "FLOATS"
        return "INTS"
    raise TypeError(f"cannot infer an ONNX attribute type for {type(value).__name__}")
