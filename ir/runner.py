"""The runner contract: what runs a model on numpy inputs for the parity check.

Kept in the IR because both sides keep it: each frontend returns a runner of the source it
loaded (the parity reference, ``frontends.open_source``), and ``validators/runners`` has one
runner per candidate artifact kind.  The validators see only this protocol.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class RunnerProtocol(Protocol):
    """The runner contract.

    - ``target``: the runner's name ("onnx", "pytorch" ...).
    - ``path``: what it runs (a path, or a description of an in-memory model).
    - ``input_names`` / ``output_names``: the model's inputs in calling order and its
      outputs in return order, as IR tensor names.
    - ``layouts``: tensor -> the permutation that brings this runner's value of the tensor
      to the reference (ONNX) layout; empty when every tensor keeps its ONNX layout.
    - ``run(inputs) -> list``: the outputs (numpy arrays, lists for sequences, None for an
      empty optional) for ``inputs`` given in ``input_names`` order.  A failure on these
      inputs raises ``InputError`` saying what the model reported.
    - ``capture(inputs, tensors, reference=None) -> {tensor: array}``: the intermediate
      tensors among ``tensors`` it computed while running ``inputs``; with ``reference``
      (isolated mode) each node is fed the reference values of its inputs instead of its
      own upstream results.  Tensors it cannot observe are simply absent.
    """

    target: str
    path: str
    input_names: list[str]
    output_names: list[str]
    layouts: dict[str, list[int]]

    def run(self, inputs: list) -> list: ...

    def capture(self, inputs: list, tensors: list[str], reference: dict | None = None) -> dict: ...


__all__ = ["RunnerProtocol"]
