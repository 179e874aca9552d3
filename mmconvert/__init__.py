"""mmconvert: convert models between ONNX, PyTorch and TensorFlow through one IR.

One top-level package: the IR, the frontends, the backends and the validators are its
subpackages ``mmconvert.ir``, ``mmconvert.frontends``, ``mmconvert.backends`` and
``mmconvert.validators``.  In the source tree they are the folders beside this one
(``ir/``, ``frontends/`` ...; setup.py maps them into the wheel); in a checkout the
repository root is on this package's ``__path__`` so that they import as subpackages there
too, and never as top-level packages of their own (which would shadow, or be shadowed by,
PyPI's ``validators`` and the like).
"""

import os as _os

_ROOT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_ROOT, "setup.py")) and _os.path.isfile(_os.path.join(_ROOT, "ir", "graph.py")):
    __path__.append(_ROOT)  # a source checkout: ir/, frontends/ ... are mmconvert.ir, mmconvert.frontends ...

from .api import ConversionResult, convert, detect_framework, inspect, load, optimize, save, validate
from .errors import MMConvertError

__version__ = "0.1.0"

__all__ = ["ConversionResult", "MMConvertError", "convert", "detect_framework", "inspect", "load", "optimize", "save", "validate", "__version__"]
