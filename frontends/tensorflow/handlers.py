"""TensorFlow ops tf2onnx 1.17 does not convert, translated here.

They reach tf2onnx as ``custom_op_handlers`` for one conversion (tf2onnx's own API for
it), so nothing is registered in tf2onnx for the rest of the process.  Each handler
rewrites the TensorFlow node in place into default-domain ONNX ops.
"""

from __future__ import annotations

import numpy as np


def erfc(ctx, node, name, args):
    """Erfc(x) = 1 - Erf(x): Keras 3's exact GELU on TensorFlow computes ``0.5 x erfc(-x / sqrt 2)``."""
    from tf2onnx import utils

    node.type = "Erf"
    node.domain = ""
    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.output[0]))
    one = ctx.make_const(utils.make_name(f"{node.name}/one"), np.array(1, dtype=dtype))
    ctx.insert_new_node_on_output("Sub", node.output[0], name=utils.make_name(f"{node.name}/complement"),
                                  inputs=[one.output[0], node.output[0]])


HANDLERS = {"Erfc": (erfc, [])}
