"""PyTorch backend: ``ir.Graph`` -> a folder with ``model.py`` (a ``torch.nn.Module``) and its weights.

See docs/pytorch-backend.md for the artifact and what the emitted code looks like.
"""

from .emitter import emit, generate, missing_ops, preflight, supported_ops

REQUIRES = "torch"
OUTPUT = "folder"
# the optimizer runs by default (convert --no-optimize leaves it out)
OPTIMIZE = True
PASSES: tuple[str, ...] = ("remove_dead_nodes", "remove_unused_initializers", "fold_constants")
# the options emit() takes (name -> what it does): the API refuses any other
OPTIONS = {"format_code": "lay the emitted model.py out for reading (default True)"}


def save(graph, output, *, force: bool = False, **options):
    """Write ``graph`` as a PyTorch folder at ``output``: claimed, staged, moved into place."""
    import mmconvert.backends.pytorch as me
    from mmconvert.backends import save as save_artifact

    return save_artifact(me, graph, output, force=force, **options)


__all__ = ["OPTIMIZE", "OUTPUT", "PASSES", "REQUIRES", "emit", "generate", "missing_ops", "preflight", "save", "supported_ops"]
