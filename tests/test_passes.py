"""The pass manager: fixed point, validation when a pass ends, rollback on failure."""

from __future__ import annotations

import numpy as np
import pytest

from mmconvert import ir
from mmconvert.ir.passes import run_passes
from mmconvert.ir.passes.cleanup import remove_unused_initializers


def test_cleanup_runs_to_a_fixed_point():
    g = ir.Graph("g")
    g.inputs = ["x"]
    g.outputs = ["y"]
    g.initializers["unused"] = np.ones(3, np.float32)
    g.make_node("Relu", ["x"], ["y"])
    rounds = run_passes(g, [remove_unused_initializers])
    assert rounds == 2 and "unused" not in g.initializers


def test_a_pass_that_breaks_the_schema_is_rolled_back():
    g = ir.Graph("g")
    g.inputs = ["x"]
    g.outputs = ["y"]
    g.make_node("Relu", ["x"], ["y"], name="r")

    def bad_pass(graph):
        graph.node("r").set_attr("alpha", 0.1)  # Relu has no attribute alpha
        return True

    with pytest.raises(ir.GraphValidationError, match="'r'.*alpha"):
        run_passes(g, [bad_pass])
    assert "alpha" not in g.node("r").attrs


def test_a_pass_that_raises_is_rolled_back():
    g = ir.Graph("g")
    g.inputs = ["x"]
    g.outputs = ["y"]
    g.make_node("Relu", ["x"], ["y"], name="r")

    def crashing(graph):
        graph.remove_node("r")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_passes(g, [crashing])
    assert [n.name for n in g.nodes] == ["r"]
