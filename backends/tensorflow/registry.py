"""The TensorFlow backend's op registry (see ``backends/codegen/registry.py``).

A handler is registered in the file of its op family (``ops/conv.py`` ...)::

    @register("Conv")                                   # ONNX Conv, from opset 1 on
    @register("Conv", domain=CHANNELS_LAST)             # its channels-last form (ir/passes/layout.py)
    def handler(c: NodeCtx) -> None: ...
"""

from __future__ import annotations

from mmconvert.backends.codegen.registry import OpRegistry
from mmconvert.ir.passes.layout import CHANNELS_LAST  # noqa: F401 - the domain of the layout pass's ops

REGISTRY = OpRegistry("tensorflow")
register = REGISTRY.register
lookup = REGISTRY.lookup
