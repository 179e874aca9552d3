"""PyTorch backend: ``ir.Graph`` -> a folder with ``model.py`` (a ``torch.nn.Module``) and its weights.

See docs/pytorch-backend.md for the artifact and what the emitted code looks like.
"""

from mmconvert.ir.options import Option

from .emitter import emit, generate, missing_ops, preflight, supported_ops

REQUIRES = "torch"
OUTPUT = "folder"
# the optimizer runs by default (convert --no-optimize leaves it out)
OPTIMIZE = True
PASSES: tuple[str, ...] = ("remove_dead_nodes", "remove_unused_initializers", "fold_constants")
# optimizer passes left out for this target: code reads better with `torch.full(...)` than with
# a stored tensor of one value, and a layer's bias at its initial zeros stays a parameter
SKIP_PASSES = frozenset({"fold_large_constants", "remove_neutral_weights"})
# the options emit() takes: the API refuses any other; the CLI spells them --format-code/--no-format-code
OPTIONS = {"format_code": Option("lay the emitted model.py out for reading with black when installed (default on)",
                                 cli="switch")}


def save(graph, output, *, force: bool = False, **options):
    """Write ``graph`` as a PyTorch folder at ``output``: claimed, staged, moved into place."""
    import mmconvert.backends.pytorch as me
    from mmconvert.backends import save as save_artifact

    return save_artifact(me, graph, output, force=force, **options)


__all__ = ["OPTIMIZE", "OPTIONS", "OUTPUT", "PASSES", "REQUIRES", "SKIP_PASSES", "emit", "generate", "missing_ops", "preflight", "save", "supported_ops"]
