"""The parity reference for a PyTorch source: the source itself, run by PyTorch.

:func:`frontends.pytorch.open_source` returns it with the graph (a ``RunnerProtocol`` of
``ir/runner.py``): the source it runs is the one the frontend resolved and checked.

The module (or the ``ExportedProgram``'s module, or the TorchScript module) is called on
the inputs in the structure it was captured with: each graph input replaces the example
tensor it came from, positional or keyword.  Its outputs are flattened as torch.export
flattens them (``ModelOutput`` fields, tuples ...) and keep only the tensors, which is the
graph's output order.

Per-layer capture uses forward hooks: an IR tensor named after a module path
(``encoder.layer.0.attention.self.query``, what the frontend names a module's call) is
that submodule's output on its first call.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils import _pytree as pytree

from mmconvert.ir.errors import InputError

from .capture import eval_mode
from .tensors import to_numpy, to_torch


class SourceRunner:
    target = "pytorch"  # the report's reference_runner: the source framework itself

    def __init__(self, src, graph):
        self.src = src
        self._model = src.module  # a program's module is made when the reference first runs
        self.path = f"{src.description} (run by torch {torch.__version__})"
        self.input_names = list(graph.real_inputs)
        self.output_names = list(graph.outputs)
        self.layouts: dict = {}
        flat, self._spec = pytree.tree_flatten((tuple(src.args), dict(src.kwargs)))
        self._flat = flat
        self._slots = [i for i, v in enumerate(flat) if isinstance(v, torch.Tensor)]

    @property
    def model(self):
        if self._model is None:
            self._model = self.src.program.module()
        return self._model

    def _call(self, inputs: list):
        if len(inputs) != len(self._slots):
            raise InputError(f"{self.path}: expects {len(self._slots)} tensor inputs, got {len(inputs)}")
        flat = list(self._flat)
        for slot, value, example in zip(self._slots, inputs, (self._flat[i] for i in self._slots)):
            t = to_torch(value)
            flat[slot] = t.to(example.dtype) if t.dtype != example.dtype else t
        args, kwargs = pytree.tree_unflatten(flat, self._spec)
        try:
            # a user's module runs in eval mode (its training flags restored after); a program's
            # module is already an inference graph
            with eval_mode(self.src.module), torch.no_grad():
                return self.model(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the user's model raised
            raise InputError(f"{self.path}: the model failed on these inputs: {type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}") from None

    def run(self, inputs: list) -> list:
        out = self._call(inputs)
        leaves = [v for v in pytree.tree_leaves(out) if isinstance(v, torch.Tensor)]
        if len(leaves) != len(self.output_names):
            raise InputError(f"{self.path}: returned {len(leaves)} tensors, the graph has {len(self.output_names)} outputs")
        return [to_numpy(v).copy() for v in leaves]

    def capture(self, inputs: list, tensors: list[str], reference: dict | None = None) -> dict:
        if reference is not None or not isinstance(self.model, torch.nn.Module):
            return {}
        wanted = set(tensors)
        modules = dict(self.model.named_modules())
        captured: dict[str, np.ndarray] = {}
        hooks = []
        for name in wanted:
            module = modules.get(name)
            if module is None or not name:
                continue

            def hook(mod, args, output, name=name):
                if name not in captured and isinstance(output, torch.Tensor):
                    captured[name] = to_numpy(output).copy()

            hooks.append(module.register_forward_hook(hook))
        try:
            self._call(inputs)
        finally:
            for h in hooks:
                h.remove()
        return captured
