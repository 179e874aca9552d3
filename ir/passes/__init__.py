"""Graph passes: small functions ``Graph -> bool`` (changed or not), run to a fixed point."""

from __future__ import annotations

from typing import Callable, Iterable

from ..graph import Graph

Pass = Callable[[Graph], bool]


def run_passes(graph: Graph, passes: Iterable[Pass], *, max_rounds: int = 20) -> int:
    """Run ``passes`` in order until none changes the graph; returns the rounds taken.

    A pass that raises, or that leaves a graph breaking an ONNX schema, leaves the graph
    as it was: each runs on a copy that is validated and replaces the graph's state only
    when both succeed.
    """
    passes = list(passes)
    for round_ in range(1, max_rounds + 1):
        changed = False
        for p in passes:
            work = graph.copy()
            if p(work):
                work.validate()
                graph.__dict__.update(work.__dict__)
                changed = True
        if not changed:
            return round_
    return max_rounds
