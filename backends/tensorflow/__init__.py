"""TensorFlow backend: ``ir.Graph`` -> a folder with ``model.py`` (a ``tf.Module`` whose
``__call__`` is a ``tf.function``), its weights, and optionally a SavedModel and a TFLite file.

See docs/tensorflow-backend.md for the artifact, the channels-last layout and the exports.
"""

from mmconvert.ir.options import Option

from .emitter import PASSES, emit, generate, missing_ops, preflight, prepare, supported_ops

REQUIRES = "tensorflow"
OUTPUT = "folder"
# the optimizer runs by default (convert --no-optimize leaves it out)
OPTIMIZE = True
# optimizer passes left out for this target: the backend writes the attention it is given as
# matmuls and a softmax either way, and its Attention handler covers fewer forms (masks) than
# the pass makes; a layer's bias at its initial zeros stays a variable
SKIP_PASSES = frozenset({"fold_large_constants", "fuse_attention", "remove_neutral_weights"})
# the options emit() takes: the API refuses any other; the CLI spells them --inputs-as-nhwc ...
OPTIONS = {
    "inputs_as_nhwc": Option("take these inputs channels-last (comma-separated names; alone: every rank 3-5 input)",
                             cli="names"),
    "outputs_as_nhwc": Option("return these outputs channels-last (comma-separated names; alone: every rank 3-5"
                              " output)", cli="names"),
    "saved_model": Option("also write a SavedModel (OUT/saved_model) and check its parity", cli="flag"),
    "tflite": Option("also write OUT/model.tflite (float32) and check it in LiteRT", cli="flag"),
    "tflite_quantize": Option("quantize the TFLite export", cli="choice",
                              choices=("float16", "dynamic-int8"), implies=("tflite",)),
}


def save(graph, output, *, force: bool = False, **options):
    """Write ``graph`` as a TensorFlow folder at ``output``: claimed, staged, moved into place."""
    import mmconvert.backends.tensorflow as me
    from mmconvert.backends import save as save_artifact

    return save_artifact(me, graph, output, force=force, **options)


__all__ = ["OPTIMIZE", "OPTIONS", "OUTPUT", "PASSES", "REQUIRES", "SKIP_PASSES", "emit", "generate", "missing_ops",
           "preflight", "prepare", "save", "supported_ops"]
