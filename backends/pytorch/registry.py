"""The PyTorch backend's op registry (see ``backends/codegen/registry.py``).

A handler is registered in the file of its op family (``ops/conv.py`` ...)::

    @register("Conv")                 # from opset 1 on
    @register("Resize", since=11)     # from Resize-11 on
    def handler(c: NodeCtx) -> None: ...
"""

from __future__ import annotations

from mmconvert.backends.codegen.registry import OpRegistry

REGISTRY = OpRegistry("pytorch")
register = REGISTRY.register
lookup = REGISTRY.lookup
entries = REGISTRY.entries
