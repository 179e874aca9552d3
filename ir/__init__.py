"""mmconvert's intermediate representation: ONNX semantics on a networkx graph."""

from .errors import (GraphValidationError, InputError, MMConvertError, ModelLoadError,
                     OpsetConversionError, ParityError, UnsupportedError, UnsupportedOpsError)
from .graph import Graph
from .node import Node
from .opset import CANONICAL_OPSET
from .serialize import load, save
from .types import ValueType

__all__ = [
    "CANONICAL_OPSET", "Graph", "Node", "ValueType", "load", "save",
    "MMConvertError", "InputError", "ModelLoadError", "GraphValidationError",
    "UnsupportedError", "UnsupportedOpsError", "OpsetConversionError", "ParityError",
]
