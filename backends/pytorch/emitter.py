"""The PyTorch dialect of the shared code-generation core (``backends/codegen``).

The core walks each graph in topological order and asks the op registry for one
statement per node, named after the node, releasing values after their last use.  This
module says what is PyTorch about the result: dtypes, how a constant is stored (a
buffer), how a small tensor is written, the ``nn.Module`` template and its loader.
Weights that belong to a layer become that layer's parameters (``nn.Conv2d`` ...); other
constants are inlined when small (Python scalars and int lists) and registered as
buffers otherwise.

Shape arithmetic on symbolic dims is kept as Python ints/lists (``x.shape[0]``), which
``torch.export`` traces symbolically; shapes known statically are folded at emit time.
"""

from __future__ import annotations

import numpy as np

from backends import EmitResult
from backends.codegen import core
from backends.codegen.core import Codegen, Dialect, EmitError, NodeCtx, Val  # noqa: F401 - used by ops/
from backends.codegen.namespace import identifier as sanitize  # noqa: F401 - used by ops/
from backends.codegen.namespace import lit  # noqa: F401 - used by ops/
from ir import dtypes
from ir.graph import Graph
from ir.opset import CANONICAL_OPSET

from .registry import REGISTRY

TORCH_DTYPE = {
    "float32": "torch.float32", "float64": "torch.float64", "float16": "torch.float16",
    "bfloat16": "torch.bfloat16", "int8": "torch.int8", "int16": "torch.int16", "int32": "torch.int32",
    "int64": "torch.int64", "uint8": "torch.uint8", "uint16": "torch.uint16", "uint32": "torch.uint32",
    "uint64": "torch.uint64", "bool": "torch.bool", "complex64": "torch.complex64",
    "complex128": "torch.complex128", "float8e4m3fn": "torch.float8_e4m3fn", "float8e5m2": "torch.float8_e5m2",
    "float8e4m3fnuz": "torch.float8_e4m3fnuz", "float8e5m2fnuz": "torch.float8_e5m2fnuz",
}
# statically known constants up to this many elements are written inline as literals
INLINE_MAX = 16


class TorchDialect(Dialect):
    target = "pytorch"
    dtypes = TORCH_DTYPE
    registry = REGISTRY
    module_names = ("math", "os", "torch", "nn", "F", "load_file", "Model", "load_model", "_as_tensor", "_as_tensors")

    def attr_reserved(self) -> set[str]:
        import torch

        return {n for n in dir(torch.nn.Module)} | {"T_destination"}

    def runtime(self):
        from . import runtime

        return runtime

    def fusions(self, graph: Graph, const_of):
        from . import fusion

        return fusion.find(graph, const_of)

    def scalar_tensor(self, value: np.ndarray) -> str:
        return f"torch.tensor({lit(value.item())}, dtype={TORCH_DTYPE[dtypes.of_array(value)]})"

    def int_list_tensor(self, expr: str) -> str:
        return f"torch.tensor({expr}, dtype=torch.int64)"

    def python_tensor(self, expr: str, dtype: str) -> str:
        return f"torch.tensor({expr})" if dtype in ("int64", "bool") else f"torch.tensor({expr}, dtype={TORCH_DTYPE[dtype]})"

    def ones_like(self, expr: str, dtype: str) -> str:
        return f"torch.ones_like({expr}, dtype={TORCH_DTYPE[dtype]})"

    def store_constant(self, cg: Codegen, array: np.ndarray, attr: str, source: str = "") -> str:
        dt = TORCH_DTYPE[dtypes.of_array(array)]
        cg.init_lines.append(f"self.register_buffer({attr!r}, torch.empty({tuple(array.shape)!r}, dtype={dt}))")
        cg.state[attr] = array
        return f"self.{attr}"

    def module_source(self, cg: Codegen, header: str, args: list[str], body: list[str], rets: list[str]) -> str:
        lines = list(body)
        lines.append(f"return {', '.join(rets)}")
        body_text = "\n".join("        " + ln if ln else "" for ln in lines)
        init = "\n".join("        " + ln for ln in cg.init_lines)
        helper_src = self.helper_source(cg)
        imports = ["import os", ""]
        if "math." in body_text + init + helper_src:
            imports.insert(0, "import math")
        imports += ["import torch", "import torch.nn as nn", "import torch.nn.functional as F",
                    "from safetensors.torch import load_file"]
        parts = [header + "\n", "\n".join(imports), "\n"]
        if helper_src:
            parts.append(helper_src)
        parts.append(
            "\nclass Model(nn.Module):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            + (init + "\n" if init else "")
            + "\n"
            + f"    def forward(self{''.join(', ' + a for a in args)}):\n"
            + body_text + "\n")
        parts.append(_LOADER)
        return "\n".join(parts)

    def format(self, source: str) -> str:
        """Format with black when installed (optional)."""
        try:
            import black  # type: ignore

            return black.format_str(source, mode=black.Mode(line_length=110))
        except Exception:  # noqa: BLE001
            return source

    def weights_metadata(self) -> dict[str, str]:
        return {"format": "pt"}


DIALECT = TorchDialect()


def torch_dtype(name: str | None) -> str:
    return DIALECT.dtype(name)


_LOADER = '''
def _as_tensor(a):
    if a is None or isinstance(a, torch.Tensor):
        return a
    if isinstance(a, (list, tuple)):
        return [_as_tensor(t) for t in a]
    return torch.as_tensor(a)


def _as_tensors(module, args):
    return tuple(_as_tensor(a) for a in args)


def load_model(weights=None):
    """The model with its weights loaded, in eval mode; inputs may be tensors or numpy arrays."""
    weights = weights or os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.safetensors")
    with torch.device("meta"):
        model = Model()
    model.load_state_dict(load_file(weights), assign=True)
    model.register_forward_pre_hook(_as_tensors)
    return model.eval()
'''


def missing_ops(graph: Graph) -> dict[tuple[str, str], list[str]]:
    from . import ops  # noqa: F401 - registers the handlers

    return core.missing_ops(REGISTRY, graph)


def preflight(graph: Graph) -> None:
    from . import ops  # noqa: F401

    core.preflight(DIALECT, graph)


def supported_ops() -> dict[str, list[str]]:
    from . import ops  # noqa: F401

    return REGISTRY.supported()


def generate(graph: Graph) -> tuple[str, dict[str, np.ndarray], dict]:
    """(model.py source, state dict arrays, manifest) for ``graph``."""
    from . import ops  # noqa: F401

    module = core.generate(DIALECT, graph)
    return module.source, module.state, module.manifest


def emit(graph: Graph, path: str, *, format_code: bool = True, **_ignored) -> EmitResult:
    """Write ``graph`` as a PyTorch folder (``model.py``, ``weights.safetensors``,
    ``manifest.json``) at ``path``, a fresh staging path."""
    preflight(graph)
    from . import ops  # noqa: F401

    module = core.generate(DIALECT if format_code else _Unformatted(), graph)
    core.write_folder(path, module, DIALECT)
    return EmitResult(path=path, target="pytorch", opset=graph.opset_imports.get("", CANONICAL_OPSET),
                      details={"model": "model.py", "parameters": len(module.state)})


class _Unformatted(TorchDialect):
    def format(self, source: str) -> str:
        return source
