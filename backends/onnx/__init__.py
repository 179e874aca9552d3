"""ONNX backend: ``ir.Graph`` -> ``.onnx`` file at a chosen opset."""

from mmconvert.ir.options import Option

from .emitter import choose_opset, emit, preflight, supported_ops, to_model

REQUIRES = None
OUTPUT = "file"
# the round trip keeps the source's structure; `convert --optimize` adds the optimizer's passes
OPTIMIZE = False
PASSES: tuple[str, ...] = ()
# optimizer passes left out for this target: ONNX Runtime 1.32 has no Swish kernel at opset 28,
# and its CPU Attention kernel is slower than what it makes of the decomposed form (see
# docs/benchmarks-optimizer.md)
SKIP_PASSES = frozenset({"fuse_silu", "fuse_attention"})
# the options emit() takes: the API refuses any other; the CLI spells them --opset, --external-data
OPTIONS = {
    "opset": Option("the ONNX opset to write (default: the source's, where every node fits)", cli="int"),
    "external_data": Option("weights in <file>.data beside the model (default: only over 2 GB)", cli="switch"),
}

def save(graph, output, *, force: bool = False, **options):
    """Write ``graph`` as an ONNX file at ``output``: claimed, staged, moved into place."""
    import mmconvert.backends.onnx as me
    from mmconvert.backends import save as save_artifact

    return save_artifact(me, graph, output, force=force, **options)


__all__ = ["OPTIMIZE", "OPTIONS", "OUTPUT", "PASSES", "REQUIRES", "SKIP_PASSES", "choose_opset", "emit", "preflight", "save", "supported_ops", "to_model"]
