"""Graph passes and the pipeline that runs them.

A pass is a small function ``Graph -> int | bool``: it rewrites the graph in place and
returns how many changes it made (``True``/``False`` count as 1/0).  Its docstring's
first line states the rule.  Passes are registered by name (:func:`register`), so a
backend can name the passes it wants (its ``PASSES``) and ``mmconvert optimize --passes``
can name them too.

The pass manager (:func:`run_passes`) runs passes in order until none changes the
graph.  Each pass runs on a copy that is validated when the pass ends and replaces the
graph only when both succeed: a pass that raises or breaks an ONNX schema leaves the
graph as it was.  :func:`run_pipeline` does the same for registered names and returns a
:class:`PassRecord` per pass saying what it changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from ..graph import Graph

Pass = Callable[[Graph], "int | bool"]
_REGISTRY: dict[str, Pass] = {}


def register(name: str | None = None):
    """Decorator: register a pass under ``name`` (default: the function's name)."""

    def deco(fn: Pass) -> Pass:
        key = name or fn.__name__
        if key in _REGISTRY and _REGISTRY[key] is not fn:
            raise ValueError(f"pass '{key}' is registered twice")
        _REGISTRY[key] = fn
        return fn

    return deco


def registered() -> dict[str, Pass]:
    _load_all()
    return dict(_REGISTRY)


def get(name: str) -> Pass:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        from ..errors import InputError

        raise InputError(f"unknown pass '{name}' (known: {', '.join(sorted(_REGISTRY))})") from None


def describe(name: str) -> str:
    """The rule a pass applies: the first paragraph of its docstring, on one line."""
    doc = (get(name).__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) if doc else ""


def _load_all() -> None:
    from . import (batchnorm, chains, cleanup, constants, cse, fold, fuse_activations, fuse_attention,  # noqa: F401
                   fuse_norm, infer, layout, noop, split, transpose, weights)  # registers the passes


# The optimizer's passes, in the order they run (to a fixed point, all together): what
# `mmconvert optimize`, `convert --optimize` and (by default) the code-emitting targets run.
# Types first (the fusions read them), then the clean-ups that make patterns visible
# (transposes that an exporter left between layout-agnostic ops sink until they cancel),
# then the fusions.
OPTIMIZER: tuple[str, ...] = (
    "infer_shapes", "initializers_out_of_inputs", "constants_to_initializers", "remove_noops",
    "remove_neutral_weights", "fold_constants", "fold_large_constants", "fold_layout_constants",
    "remove_dead_nodes",
    "remove_unused_initializers", "dedupe_initializers", "eliminate_common_subexpressions",
    "sink_transposes", "cancel_transposes",
    "fold_batchnorm", "fold_affine_into_conv", "fuse_pad_into_conv", "fuse_reshape_chains",
    "fuse_unsqueeze_chains", "fuse_squeeze_chains", "fuse_slice_chains", "fuse_concat_chains",
    "fuse_flatten_softmax", "fuse_reshaped_transpose", "fuse_matmul_add", "fuse_gelu", "fuse_layer_norm", "fuse_rms_norm", "fuse_attention", "fuse_hardswish",
    "fuse_mish", "fuse_silu",
)
def optimizer_passes(*, skip=()) -> list[str]:
    """The optimizer's pass names (registered ones only), in order, without ``skip``.  A
    target's own exclusions are its backend's ``SKIP_PASSES``
    (``mmconvert.backends.optimizer_passes(target)``): the IR names no target."""
    known = registered()
    for name in skip:
        get(name)  # an unknown name is an error, not a silent no-op
    return [p for p in OPTIMIZER if p in known and p not in set(skip)]


@dataclass
class PassRecord:
    name: str
    changes: int = 0
    rounds: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"pass": self.name, "changes": self.changes, "rounds": self.rounds, "seconds": round(self.seconds, 4)}


def _count(result) -> int:
    if isinstance(result, bool):
        return int(result)
    return int(result or 0)


def run_passes(graph: Graph, passes: Iterable[Pass], *, max_rounds: int = 20,
               records: dict[Pass, PassRecord] | None = None,
               after: Callable[[Pass, Graph], None] | None = None) -> int:
    """Run ``passes`` in order until none changes the graph; returns the rounds taken.
    ``after(pass, graph)`` is called each time a pass has changed the graph (and the change
    has been validated and kept)."""
    passes = list(passes)
    for round_ in range(1, max_rounds + 1):
        changed = False
        for p in passes:
            start = time.perf_counter()
            work = graph.copy()
            n = _count(p(work))
            if n:
                work.validate()
                graph.__dict__.update(work.__dict__)
                changed = True
                if after is not None:
                    after(p, graph)
            if records is not None and p in records:
                rec = records[p]
                rec.changes += n
                rec.rounds = round_
                rec.seconds += time.perf_counter() - start
        if not changed:
            return round_
    return max_rounds


def run_pipeline(graph: Graph, names: Iterable[str], *, max_rounds: int = 20,
                 after: Callable[[str, Graph], None] | None = None) -> list[PassRecord]:
    """Run the registered passes ``names`` to a fixed point; a record per pass.
    ``after(name, graph)`` is called each time a pass has changed the graph."""
    names = list(dict.fromkeys(names))
    fns = [get(n) for n in names]
    records = {fn: PassRecord(n) for n, fn in zip(names, fns)}
    hook = None if after is None else (lambda fn, g: after(records[fn].name, g))
    if fns:
        run_passes(graph, fns, max_rounds=max_rounds, records=records, after=hook)
    return [records[fn] for fn in fns]


def normalize(graph: Graph) -> PassRecord:
    """Bring every default-domain node to the canonical opset and check every node
    against its schema (the pipeline's first stage)."""
    from ..opset import CANONICAL_OPSET
    from .opset import upgrade

    start = time.perf_counter()
    before = graph.opset_imports.get("", CANONICAL_OPSET)
    changed = upgrade(graph)
    graph.validate()
    return PassRecord("normalize", int(changed and before != CANONICAL_OPSET), 1, time.perf_counter() - start)
