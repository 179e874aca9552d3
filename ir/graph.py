"""The IR graph: a ``networkx.MultiDiGraph`` of operations with ONNX semantics.

Nodes of the networkx graph are node names; each carries its :class:`ir.Node` under
the ``"node"`` key.  An edge runs from the producer of a tensor to each consumer,
keyed ``(tensor, slot)``; a subgraph's use of an outer-scope tensor is an edge with
``slot == -1`` so that the topological order respects it.  Graph inputs, outputs and
initializers are explicit and ordered.
"""

from __future__ import annotations

import copy as _copy
import itertools
from collections import Counter
from typing import Any, Iterable, Iterator

import networkx as nx
import numpy as np

from .errors import GraphValidationError
from .node import Node
from .opset import CANONICAL_OPSET
from .types import ValueType


class Graph:
    def __init__(self, name: str = "main"):
        self.name = name
        self.nx = nx.MultiDiGraph()
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.values: dict[str, ValueType] = {}  # known types of any tensor
        self.value_docs: dict[str, str] = {}  # doc strings of inputs/outputs
        self.opset_imports: dict[str, int] = {"": CANONICAL_OPSET}
        self.metadata: dict[str, Any] = {}
        # the files the source was read from (absolute paths): no output may replace them
        self.source_files: tuple[str, ...] = ()
        # tensor -> (holder, perm): the tensor's value is transpose(holder, perm); see ir/passes/layout.py
        self.layouts: dict[str, tuple[str, list[int]]] = {}
        self.doc_string = ""
        self._producer: dict[str, str] = {}  # tensor -> node name
        self._waiting: dict[str, list[tuple[str, int]]] = {}  # tensor -> consumers seen before producer
        self._order = itertools.count()
        self._names: set[str] = set()

    # ------------------------------------------------------------------ nodes
    def add_node(self, node: Node) -> Node:
        """Insert a node; its name is made unique if needed (the source name is kept otherwise).

        An unnamed node is named after its first output (readable in emitted code:
        ``conv1 = self.conv1(x)``), else after its op type.
        """
        first_out = next((o for o in node.outputs if o), "")
        base = node.name or first_out or f"{node.op_type}_{len(self._names)}"
        name, i = base, 1
        while name in self._names:
            name, i = f"{base}_{i}", i + 1
        node.name = name
        self._names.add(name)
        self.nx.add_node(name, node=node, order=next(self._order))
        for out in node.outputs:
            if not out:
                continue
            if out in self._producer:
                raise GraphValidationError(f"tensor '{out}' is produced twice", node=name)
            self._producer[out] = name
            for consumer, slot in self._waiting.pop(out, ()):
                if consumer in self.nx:
                    self.nx.add_edge(name, consumer, key=(out, slot), tensor=out, slot=slot)
        for slot, tensor in self._uses(node):
            producer = self._producer.get(tensor)
            if producer is not None:
                self.nx.add_edge(producer, name, key=(tensor, slot), tensor=tensor, slot=slot)
            else:
                self._waiting.setdefault(tensor, []).append((name, slot))
        return node

    def make_node(self, op_type: str, inputs: list[str], outputs: list[str], name: str = "", domain: str = "", **attrs) -> Node:
        node = Node(name=name, op_type=op_type, inputs=list(inputs), outputs=list(outputs), domain=domain)
        for k, v in attrs.items():
            node.set_attr(k, v)
        return self.add_node(node)

    def remove_node(self, name: str) -> Node:
        node = self.node(name)
        for out in node.outputs:
            if self._producer.get(out) == name:
                del self._producer[out]
                # consumers of this output now wait for a new producer
                for _, consumer, key in list(self.nx.out_edges(name, keys=True)):
                    if key[0] == out:
                        self._waiting.setdefault(out, []).append((consumer, key[1]))
        for tensor, lst in list(self._waiting.items()):
            lst[:] = [(c, s) for c, s in lst if c != name]
            if not lst:
                del self._waiting[tensor]
        self.nx.remove_node(name)
        self._names.discard(name)
        return node

    def replace_input(self, node: Node, slot: int, tensor: str) -> None:
        """Point input ``slot`` of ``node`` at another tensor, keeping edges right."""
        self._unlink_inputs(node)
        node.inputs[slot] = tensor
        self._link_inputs(node)

    def set_inputs(self, node: Node, inputs: list[str]) -> None:
        self._unlink_inputs(node)
        node.inputs = list(inputs)
        self._link_inputs(node)

    def rename_tensor_uses(self, old: str, new: str) -> None:
        """Make every consumer (and graph output) of ``old`` read ``new`` instead, including
        the subgraphs (If/Loop/Scan bodies) that read it from this scope."""
        for consumer in [n for n in self.consumers(old)]:
            for _, sub in consumer.subgraphs():
                sub._rename_outer_use(old, new)
            self.set_inputs(consumer, [new if t == old else t for t in consumer.inputs])
        self.outputs = [new if t == old else t for t in self.outputs]

    def _rename_outer_use(self, old: str, new: str) -> None:
        if old in self.defined_names():  # shadowed here: the body's own tensor
            return
        for node in [n["node"] for n in self.nx.nodes.values()]:
            for _, sub in node.subgraphs():
                sub._rename_outer_use(old, new)
            if old in node.inputs or any(True for _ in node.subgraphs()):
                self.set_inputs(node, [new if t == old else t for t in node.inputs])
        self.outputs = [new if t == old else t for t in self.outputs]

    def _unlink_inputs(self, node: Node) -> None:
        for u, _, key in list(self.nx.in_edges(node.name, keys=True)):
            self.nx.remove_edge(u, node.name, key=key)
        for tensor, lst in list(self._waiting.items()):
            lst[:] = [(c, s) for c, s in lst if c != node.name]
            if not lst:
                del self._waiting[tensor]

    def _link_inputs(self, node: Node) -> None:
        for slot, tensor in self._uses(node):
            producer = self._producer.get(tensor)
            if producer is not None:
                self.nx.add_edge(producer, node.name, key=(tensor, slot), tensor=tensor, slot=slot)
            else:
                self._waiting.setdefault(tensor, []).append((node.name, slot))

    @staticmethod
    def _uses(node: Node) -> Iterator[tuple[int, str]]:
        for slot, tensor in enumerate(node.inputs):
            if tensor:
                yield slot, tensor
        seen = set()
        for _, sub in node.subgraphs():
            for tensor in sorted(sub.free_names()):
                if tensor not in seen:
                    seen.add(tensor)
                    yield -1, tensor

    def node(self, name: str) -> Node:
        try:
            return self.nx.nodes[name]["node"]
        except KeyError:
            raise KeyError(f"no node named '{name}'") from None

    def producer(self, tensor: str) -> Node | None:
        name = self._producer.get(tensor)
        return None if name is None else self.node(name)

    def consumers(self, tensor: str) -> list[Node]:
        names: list[str] = []
        producer = self._producer.get(tensor)
        if producer is not None:
            names = [v for _, v, key in self.nx.out_edges(producer, keys=True) if key[0] == tensor]
        else:
            names = [c for c, _ in self._waiting.get(tensor, ())]
        return [self.node(n) for n in dict.fromkeys(names)]

    @property
    def nodes(self) -> list[Node]:
        """Nodes in a deterministic topological order (source order where it is valid)."""
        order = self.nx.nodes
        try:
            names = nx.lexicographical_topological_sort(self.nx, key=lambda n: order[n]["order"])
            return [order[n]["node"] for n in names]
        except nx.NetworkXUnfeasible:
            cycle = nx.find_cycle(self.nx)
            raise GraphValidationError(
                "the graph has a cycle through " + " -> ".join(str(u) for u, *_ in cycle)
            ) from None

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    # --------------------------------------------------------------- tensors
    def type_of(self, tensor: str) -> ValueType | None:
        vt = self.values.get(tensor)
        if vt is None and tensor in self.initializers:
            from . import dtypes

            arr = self.initializers[tensor]
            vt = ValueType.tensor(dtypes.of_array(arr), arr.shape)
        return vt

    def add_initializer(self, name: str, array: np.ndarray) -> str:
        """Add a constant tensor under a fresh name derived from ``name``; returns the name."""
        name = self.unique_tensor_name(name)
        self.initializers[name] = array
        return name

    def unique_tensor_name(self, base: str) -> str:
        used = self.defined_names() | set(self.layouts)  # a recorded tensor's name is never reused
        name, i = base, 1
        while name in used:
            name, i = f"{base}_{i}", i + 1
        return name

    def defined_names(self) -> set[str]:
        return set(self.inputs) | set(self.initializers) | set(self._producer)

    @property
    def real_inputs(self) -> list[str]:
        """Graph inputs a caller must feed (inputs that have no initializer)."""
        return [i for i in self.inputs if i not in self.initializers]

    def free_names(self) -> set[str]:
        """Tensors this graph (and its subgraphs) reads but does not define: outer-scope names."""
        defined = self.defined_names()
        used: set[str] = set()
        for data in self.nx.nodes.values():
            node = data["node"]
            used.update(t for t in node.inputs if t)
            for _, sub in node.subgraphs():
                used |= sub.free_names()
        used.update(t for t in self.outputs if t)
        return used - defined

    def constant(self, tensor: str) -> np.ndarray | None:
        """The value of ``tensor`` if it is an initializer or a Constant node's output."""
        if tensor in self.initializers:
            return self.initializers[tensor]
        node = self.producer(tensor)
        if node is not None and node.op_type == "Constant" and node.domain in ("", "ai.onnx") and "value" in node.attrs:
            return node.attrs["value"]
        return None

    # ------------------------------------------------------------- whole graph
    def iter_graphs(self) -> Iterator["Graph"]:
        """This graph and every nested subgraph, depth first."""
        yield self
        for data in list(self.nx.nodes.values()):
            for _, sub in data["node"].subgraphs():
                yield from sub.iter_graphs()

    def op_histogram(self) -> Counter:
        return Counter(n.qualified_op for g in self.iter_graphs() for n in g.nx.nodes.values() for n in [n["node"]])

    def parameter_count(self) -> tuple[int, int]:
        """(number of elements, bytes) over all initializers, subgraphs included."""
        count = size = 0
        for g in self.iter_graphs():
            for arr in g.initializers.values():
                count += int(arr.size)
                size += int(arr.nbytes) if arr.dtype != object else sum(len(str(x)) for x in arr.flat)
        return count, size

    def copy(self) -> "Graph":
        """A structural copy: nodes and subgraphs are new objects, weight arrays are shared."""
        memo: dict[int, Any] = {}
        for g in self.iter_graphs():
            for arr in g.initializers.values():
                memo[id(arr)] = arr
            for data in g.nx.nodes.values():
                for k, kind in data["node"].attr_types.items():
                    if kind == "TENSOR":
                        memo[id(data["node"].attrs[k])] = data["node"].attrs[k]
        return _copy.deepcopy(self, memo)

    def validate(self, *, outer: Iterable[str] = ()) -> None:
        """Check the structure: every tensor read is defined, graph outputs exist,
        and every node matches its ONNX schema."""
        from .opset import check_opsets
        from .schema import check_node

        check_opsets(self.opset_imports)
        known = self.defined_names() | set(outer)
        for name in self.outputs:
            if name not in known:
                raise GraphValidationError(f"graph output '{name}' is not produced by any node")
        for node in self.nodes:
            for tensor in node.inputs:
                if tensor and tensor not in known:
                    raise GraphValidationError(f"input '{tensor}' is not defined", node=node.name)
            check_node(node, self.opset_imports)
            for _, sub in node.subgraphs():
                sub.opset_imports = self.opset_imports
                sub.validate(outer=known)

    def __repr__(self) -> str:
        return f"<ir.Graph '{self.name}': {len(self)} nodes, {len(self.inputs)} inputs, {len(self.outputs)} outputs, {len(self.initializers)} initializers>"
