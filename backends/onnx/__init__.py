"""ONNX backend: ``ir.Graph`` -> ``.onnx`` file at a chosen opset."""

from .emitter import choose_opset, emit, preflight, save, supported_ops, to_model

REQUIRES = None
OUTPUT = "file"
# the round trip keeps the source's structure; `convert --optimize` adds the optimizer's passes
OPTIMIZE = False
PASSES: tuple[str, ...] = ()

__all__ = ["OPTIMIZE", "OUTPUT", "PASSES", "REQUIRES", "choose_opset", "emit", "preflight", "save", "supported_ops", "to_model"]
