"""TensorFlow backend: ``ir.Graph`` -> a folder with ``model.py`` (a ``tf.Module`` whose
``__call__`` is a ``tf.function``), its weights, and optionally a SavedModel and a TFLite file.

See docs/tensorflow-backend.md for the artifact, the channels-last layout and the exports.
"""

from .emitter import PASSES, emit, generate, missing_ops, preflight, prepare, supported_ops

REQUIRES = "tensorflow"
OUTPUT = "folder"
# the optimizer runs by default (convert --no-optimize leaves it out)
OPTIMIZE = True
# the options emit() takes (name -> what it does): the API refuses any other
OPTIONS = {
    "inputs_as_nhwc": "take these inputs channels-last (True: every rank 3-5 input, or a list of names)",
    "outputs_as_nhwc": "return these outputs channels-last (True: every rank 3-5 output, or a list of names)",
    "saved_model": "also write a SavedModel (OUT/saved_model) and check its parity",
    "tflite": "also write OUT/model.tflite and check it in LiteRT",
    "tflite_quantize": "quantize the TFLite export: float16 or dynamic-int8",
}


def save(graph, output, *, force: bool = False, **options):
    """Write ``graph`` as a TensorFlow folder at ``output``: claimed, staged, moved into place."""
    import mmconvert.backends.tensorflow as me
    from mmconvert.backends import save as save_artifact

    return save_artifact(me, graph, output, force=force, **options)


__all__ = ["OPTIMIZE", "OUTPUT", "PASSES", "REQUIRES", "emit", "generate", "missing_ops", "preflight", "prepare", "save",
           "supported_ops"]
