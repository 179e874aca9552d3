"""ONNX backend: ``ir.Graph`` -> ``.onnx`` file at a chosen opset."""

from .emitter import choose_opset, save, to_model

__all__ = ["choose_opset", "save", "to_model"]
