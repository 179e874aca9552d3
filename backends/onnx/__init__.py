"""ONNX backend: ``ir.Graph`` -> ``.onnx`` file at a chosen opset."""

from .emitter import choose_opset, emit, preflight, save, supported_ops, to_model

REQUIRES = None
OUTPUT = "file"
# the round trip keeps the source's structure; `convert --optimize` adds the optimizer's passes
OPTIMIZE = False
PASSES: tuple[str, ...] = ()
# the options emit() takes (name -> what it does): the API refuses any other
OPTIONS = {"opset": "the ONNX opset to write (default: the source's, where every node fits)",
           "external_data": "weights in <file>.data beside the model (default: only over 2 GB)"}

__all__ = ["OPTIMIZE", "OUTPUT", "PASSES", "REQUIRES", "choose_opset", "emit", "preflight", "save", "supported_ops", "to_model"]
