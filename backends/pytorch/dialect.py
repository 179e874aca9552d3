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

import os

import numpy as np

from mmconvert.backends.codegen.core import Codegen, Dialect, EmitError, NodeCtx, Val  # noqa: F401 - used by ops/
from mmconvert.backends.codegen.helpers import HelperSource
from mmconvert.backends.codegen.namespace import identifier as sanitize  # noqa: F401 - used by ops/
from mmconvert.backends.codegen.namespace import lit  # noqa: F401 - used by ops/
from mmconvert.ir import dtypes
from mmconvert.ir.graph import Graph

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
# the public names of torch.nn.Module (methods and the `training` flag): no submodule or
# buffer may take one (a test checks the installed torch adds none); kept as text so that
# generating code never imports torch
MODULE_API = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches
eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict
modules mtia named_buffers named_children named_modules named_parameters parameters register_backward_hook
register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook
register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu zero_grad
""".split())
_RUNTIME = HelperSource(os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtime.py"))


class TorchDialect(Dialect):
    target = "pytorch"
    dtypes = TORCH_DTYPE
    registry = REGISTRY
    module_names = ("math", "os", "torch", "nn", "F", "load_file", "Model", "load_model", "_as_tensor", "_as_tensors")

    def attr_reserved(self) -> set[str]:
        return set(MODULE_API)

    def runtime(self):
        return _RUNTIME

    def fusions(self, graph: Graph, const_of):
        from . import fusion

        return fusion.find(graph, const_of)

    def scalar_tensor(self, value: np.ndarray) -> str:
        return f"torch.tensor({lit(value.item())}, dtype={TORCH_DTYPE[dtypes.of_array(value)]})"

    def int_list_tensor(self, expr: str) -> str:
        return f"torch.tensor({expr}, dtype=torch.int64)"

    def _tree(self, cg: Codegen):
        tree = getattr(cg, "module_tree", None)
        if tree is None:
            from .tree import ModuleTree

            tree = cg.module_tree = ModuleTree(cg, self.attr_reserved())
        return tree

    def place_module(self, cg: Codegen, base: str, ctor: str, params: dict) -> tuple[str, str]:
        """A layer at its dotted source path in the module tree (see ``tree.py``)."""
        ident = (ctor, tuple(id(a) for a in params.values() if a is not None))
        node = self._tree(cg).leaf(base, ctor, ident)
        return node.expr, node.key

    def place_constant(self, cg: Codegen, array: np.ndarray, base: str) -> str:
        """A stored tensor at its dotted source path: an ``nn.Parameter`` for a source parameter,
        else a buffer; not part of the state (``persistent=False``, stored in
        ``constants.safetensors``) when the source lists its state and this is not in it."""
        from .tree import register_buffer

        dt = TORCH_DTYPE[dtypes.of_array(array)]
        empty = f"torch.empty({tuple(array.shape)!r}, dtype={dt})"
        persistent = not cg.source_state or base in cg.source_state
        if not persistent:  # a computed tensor named after a layer's output: off the layers' paths
            base = base.replace(".", "_")
        if base in cg.source_params and array.dtype.kind in "fc":
            node = self._tree(cg).tensor(base, "param", lambda owner, name, expr: f"{expr} = nn.Parameter({empty})")
        else:
            node = self._tree(cg).tensor(
                base, "buffer", lambda owner, name, expr: register_buffer(owner, name, empty, persistent))
        (cg.state if persistent else cg.constants)[node.key] = array
        return node.expr

    def _tie(self, cg: Codegen) -> None:
        """A tied parameter's other names (``encoder.embed_tokens.weight`` beside ``shared.weight``)
        are parameters too, holding the same values, so the source's state dict loads."""
        for alias, key in (cg.graph.metadata.get("state_aliases") or {}).items():
            if key in cg.state and alias not in cg.state and alias in cg.source_state:
                self.place_constant(cg, cg.state[key], alias)

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
        self._tie(cg)
        tree = getattr(cg, "module_tree", None)
        init_lines = (tree.lines() if tree is not None else []) + cg.init_lines
        init = "\n".join("        " + ln for ln in init_lines)
        helper_src = self.runtime().sources(cg.helpers)
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
        parts.append(_LOADER.replace("{constants}", _CONSTANTS if cg.constants else ""))
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
    folder = os.path.dirname(os.path.abspath(__file__))
    weights = weights or os.path.join(folder, "weights.safetensors")
    with torch.device("meta"):
        model = Model()
    model.load_state_dict(load_file(weights), assign=True){constants}
    model.register_forward_pre_hook(_as_tensors)
    return model.eval()
'''

# buffers that are not part of the state dict (constants the source computed, not stored)
_CONSTANTS = '''
    for name, value in load_file(os.path.join(folder, "constants.safetensors")).items():
        owner, _, attr = name.rpartition(".")
        setattr(model.get_submodule(owner), attr, value)'''


class UnformattedDialect(TorchDialect):
    """The dialect writing model.py as generated (``format_code=False``)."""

    def format(self, source: str) -> str:
        return source
