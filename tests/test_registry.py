"""Op registries hold from the opset an entry starts at; nothing names the canonical opset."""

from __future__ import annotations

import pytest

from mmconvert.backends.codegen.registry import OpRegistry


def test_an_entry_holds_until_a_later_entry():
    reg = OpRegistry("t")
    reg.register("Resize", since=10)(lambda c: "v10")
    reg.register("Resize", since=11)(lambda c: "v11")
    assert reg.lookup("Resize", "", 9) is None  # Resize does not exist before 10
    assert reg.lookup("Resize", "", 10)(None) == "v10"
    assert reg.lookup("Resize", "", 13)(None) == "v11"  # Resize-13 is later than 11
    assert reg.lookup("Resize", "", 28)(None) == "v11"
    assert reg.supported() == {"Resize": ["10", "11+"]}


def test_registering_the_same_op_twice_is_an_error():
    reg = OpRegistry("t")
    reg.register("Relu")(lambda c: None)
    with pytest.raises(ValueError, match="twice"):
        reg.register("Relu", since=1)(lambda c: None)


def test_raising_the_canonical_opset_keeps_every_handler(monkeypatch):
    pytest.importorskip("torch")
    from mmconvert.ir import opset as ir_opset
    from mmconvert.backends.pytorch import supported_ops
    from mmconvert.backends.pytorch.registry import REGISTRY

    before = supported_ops()
    resolved = {op: REGISTRY.lookup(op.split("::")[-1], op.split("::")[0] if "::" in op else "", ir_opset.CANONICAL_OPSET)
                for op in before}
    monkeypatch.setattr(ir_opset, "CANONICAL_OPSET", ir_opset.CANONICAL_OPSET + 1)
    assert supported_ops() == before
    for op, handler in resolved.items():
        domain, _, name = op.rpartition("::")
        assert REGISTRY.lookup(name, domain, ir_opset.CANONICAL_OPSET) is handler, op
    for entries in REGISTRY.entries().values():
        for e in entries:
            assert not hasattr(e, "last")  # no entry has an upper bound
