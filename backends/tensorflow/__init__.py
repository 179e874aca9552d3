"""TensorFlow backend: ``ir.Graph`` -> a folder with ``model.py`` (a ``tf.Module`` whose
``__call__`` is a ``tf.function``), its weights, and optionally a SavedModel and a TFLite file.

See docs/tensorflow-backend.md for the artifact, the channels-last layout and the exports.
"""

from .emitter import PASSES, emit, generate, missing_ops, preflight, prepare, supported_ops

REQUIRES = "tensorflow"
OUTPUT = "folder"
# the optimizer runs by default (convert --no-optimize leaves it out)
OPTIMIZE = True


def save(graph, output, *, force: bool = False, **options):
    """Write ``graph`` as a TensorFlow folder at ``output``: claimed, staged, moved into place."""
    import mmconvert.backends.tensorflow as me
    from mmconvert.backends import save as save_artifact

    return save_artifact(me, graph, output, force=force, **options)


__all__ = ["OPTIMIZE", "OUTPUT", "PASSES", "REQUIRES", "emit", "generate", "missing_ops", "preflight", "prepare", "save",
           "supported_ops"]
