"""mmconvert: convert models between ONNX, PyTorch and TensorFlow through one IR."""

from .api import ConversionResult, convert, detect_framework, inspect, load, optimize, save, validate
from .errors import MMConvertError

__version__ = "0.1.0"

__all__ = ["ConversionResult", "MMConvertError", "convert", "detect_framework", "inspect", "load", "optimize", "save", "validate", "__version__"]
