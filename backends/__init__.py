"""Backends: one package per target, each emitting an artifact from an ``ir.Graph``.

Every backend package exposes the same names, so the API and the CLI reach a new target
without an if-chain:

- ``OUTPUT``: ``"file"`` or ``"folder"``, what the artifact is;
- ``PASSES``: the registered passes (``ir.passes``) the pipeline runs before it emits;
- ``OPTIMIZE``: whether ``convert`` adds the optimizer's passes by default (``--optimize`` /
  ``--no-optimize`` override it);
- ``SKIP_PASSES``: the optimizer's passes this target leaves out (with the reason beside it);
- ``OPTIONS``: ``{name: ir.options.Option}``, the keywords ``emit`` takes; the API refuses any
  other and the CLI builds the target's flags from them;
- ``preflight(graph)``: raise ``UnsupportedOpsError`` listing every op it lacks, before
  any work is done;
- ``emit(graph, path, **options) -> EmitResult``: write the artifact at ``path``, a fresh
  staging path (nothing is there; :func:`save` claims the real output and moves it into
  place);
- ``supported_ops() -> dict[str, list[str]]``: op type -> the opset versions its handlers
  start at (for ``mmconvert ops``);
- ``REQUIRES``: the pip extra the target needs at run time (``None`` if none).

The code-emitting backends build on ``backends/codegen`` (the shared core) and add a
dialect and ``ops/`` files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmconvert.ir.plugins import load_plugin

TARGETS = ("onnx", "pytorch", "tensorflow")


@dataclass
class EmitResult:
    path: str
    target: str
    opset: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def get_backend(target: str):
    """The backend package for ``target``."""
    return load_plugin(f"mmconvert.backends.{target}", target, TARGETS, "target")


def optimizer_passes(target: str, *, skip=()) -> list[str]:
    """The optimizer's pass names for ``target``: ``ir.passes.OPTIMIZER`` in order, without the
    backend's ``SKIP_PASSES`` and ``skip`` (an unknown name in ``skip`` is an InputError)."""
    from mmconvert.ir.passes import optimizer_passes as all_passes

    return all_passes(skip=(*skip, *sorted(getattr(get_backend(target), "SKIP_PASSES", ()))))


def save(backend, graph, output, *, force: bool = False, sources=(), **options) -> EmitResult:
    """Preflight, claim ``output`` (see ``ir.output``), emit into the staging path, move it
    into place.  Nothing is written when a step fails."""
    from mmconvert.ir.output import claim

    backend.preflight(graph)
    with claim(output, backend.OUTPUT, force=force, sources=sources) as out:
        result = backend.emit(graph, out.staging, **options)
        result.path = out.commit()
    return result


__all__ = ["EmitResult", "TARGETS", "get_backend", "optimizer_passes", "save"]
