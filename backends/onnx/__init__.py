"""ONNX backend: ``ir.Graph`` -> ``.onnx`` file at a chosen opset."""

from .emitter import choose_opset, save, supported_ops, to_model

REQUIRES = None

__all__ = ["REQUIRES", "choose_opset", "save", "supported_ops", "to_model"]
