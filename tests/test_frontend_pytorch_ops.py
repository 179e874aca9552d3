"""ATen handlers of the PyTorch frontend, one small function each, taken by the native route
(``capture="native"``: no fallback) to ONNX and to PyTorch, and checked against torch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import mmconvert  # noqa: E402


def r(*shape):
    return torch.randn(*shape)


CASES = {
    "arith": (lambda x, y: (x + 2 * y - 1.5) * y / (y.abs() + 1) - torch.rsub(x, 3, alpha=2), (r(2, 3), r(2, 3))),
    "int_arith": (lambda a, b: (a // b, a % b, torch.div(a, b, rounding_mode="trunc"), a * 3 - b),
                  (torch.tensor([7, -7, 9, 4]), torch.tensor([2, 2, -4, 3]))),
    "float_modes": (lambda x: (torch.div(x, 0.7, rounding_mode="floor"), torch.div(x, 0.7, rounding_mode="trunc"),
                               torch.remainder(x, 0.6), torch.fmod(x, 0.6)), (r(3, 4),)),
    "unary": (lambda x: (x.exp(), x.abs().log1p(), x.abs().sqrt(), x.sin(), x.cos(), x.tanh(), x.sigmoid(), x.erf(),
                         x.floor(), x.ceil(), x.round(), x.sign(), x.neg(), x.abs().rsqrt(), x.expm1(),
                         x.abs().log2()), (r(3, 5),)),
    "compare_logic": (lambda x, y: ((x > y) & (x < 1), (x >= 0) | (y <= 0), x == y, x != y, ~(x > 0),
                                    torch.logical_xor(x > 0, y > 0), torch.where(x > y, x, y),
                                    torch.maximum(x, y), torch.minimum(x, y)), (r(4, 4), r(4, 4))),
    "clamp_fill": (lambda x: (x.clamp(-0.5, 0.5), x.clamp(min=0), x.masked_fill(x > 0, -1.0),
                              torch.where(x > 0, x, 0.0)), (r(3, 3),)),
    "activations": (lambda x: (F.gelu(x), F.gelu(x, approximate="tanh"), F.silu(x), F.relu6(x), F.hardswish(x),
                               F.hardsigmoid(x), F.leaky_relu(x, 0.1), F.elu(x), F.selu(x), F.celu(x), F.mish(x),
                               F.softplus(x, beta=2.0), F.logsigmoid(x), F.hardtanh(x, -0.3, 0.4),
                               F.glu(x, dim=-1)), (r(2, 6),)),
    "softmax": (lambda x: (F.softmax(x, dim=1), F.log_softmax(x, dim=-1)), (r(2, 5, 3),)),
    "reductions": (lambda x: (x.sum(), x.sum(1), x.mean((0, 2), keepdim=True), x.amax(-1), x.amin(0),
                              x.max(dim=1).values, x.min(dim=2).indices, x.argmax(), x.argmin(1, keepdim=True),
                              x.var(1), x.std(2, correction=0), x.prod(1), torch.logsumexp(x, 2),
                              torch.linalg.vector_norm(x, dim=-1), (x > 0).any(1), (x > -3).all(),
                              x.cumsum(1)), (r(2, 3, 4),)),
    "shapes": (lambda x: (x.view(2, -1), x.reshape(6, 4).t(), x.permute(2, 0, 1), x.transpose(0, 2),
                          x.unsqueeze(1).squeeze(1), x.flatten(1), x.unflatten(2, (2, 2)), x.movedim(0, 2),
                          x.expand(3, 2, 3, 4), x[:, 1:, ::2], x[..., -1], x.narrow(2, 1, 2), x.flip(0, 2),
                          x.roll(1, 2), x.repeat(1, 2, 1)), (r(2, 3, 4),)),
    "join_split": (lambda x, y: (torch.cat([x, y], 1), torch.stack([x, y], 0), *x.split(2, 1),
                                 *torch.split(y, [1, 3], 1), *x.chunk(2, 0), *x.unbind(1)), (r(2, 4), r(2, 4))),
    "pad": (lambda x: (F.pad(x, (1, 2, 0, 1)), F.pad(x, (1, 1, 2, 0), value=0.5), F.pad(x, (2, 1, 1, 2), mode="reflect"),
                       F.pad(x, (1, 1, 1, 1), mode="replicate"), F.pad(x, (1, 2, 1, 1), mode="circular")),
            (r(1, 2, 5, 5),)),
    "indexing": (lambda x, i: (x[i], x[:, i], x.index_select(1, i), torch.gather(x, 1, i.view(1, -1).expand(4, 3)),
                               x[i, i], torch.embedding(x, i)), (r(4, 5), torch.tensor([0, 3, 1]))),
    "scatter": (lambda x, i, v: (x.scatter(1, i, v), x.scatter_add(1, i, v), x.scatter(1, i, 2.0)),
                (r(3, 5), torch.tensor([[0, 1], [2, 3], [4, 0]]), r(3, 2))),
    "creation": (lambda x: (torch.arange(x.shape[1]) * x, torch.zeros_like(x) + 1, torch.ones(3, 1) * x[0],
                            torch.full((3, 3), 7.0) - x, x.new_zeros(2, 2), torch.tril(x), torch.triu(x, 1),
                            torch.arange(1, 7, 2, dtype=torch.float32)), (r(3, 3),)),
    "casts": (lambda x: (x.to(torch.int64), (x > 0).float(), x.double().sum(), x.type_as(torch.zeros(1, dtype=torch.int32))),
              (r(2, 3) * 5,)),
    "matmul": (lambda a, b, c: (a @ b, torch.bmm(c, c.transpose(1, 2)), torch.addmm(b[0], a, b),
                                torch.baddbmm(c, c, c.transpose(1, 2), beta=0.5, alpha=2.0),
                                torch.einsum("bij,bkj->bik", c, c)), (r(3, 4), r(4, 4), r(2, 3, 3))),
    "conv_pool": (lambda x, w: (F.conv2d(x, w, padding=1, stride=2), F.conv2d(x, w, padding="same", dilation=2),
                                F.conv_transpose2d(x, w.transpose(0, 1), stride=2, output_padding=1),
                                F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 2, count_include_pad=False, padding=1),
                                F.adaptive_avg_pool2d(x, 1), F.adaptive_avg_pool2d(x, (4, 2)),
                                F.max_pool2d(x, 2, ceil_mode=True)), (r(1, 3, 8, 8), r(4, 3, 3, 3))),
    "conv1d_3d": (lambda x, w, y, v: (F.conv1d(x, w, groups=2), F.conv3d(y, v, padding=1), F.avg_pool1d(x, 2)),
                  (r(1, 4, 9), r(6, 2, 3), r(1, 2, 4, 4, 4), r(3, 2, 3, 3, 3))),
    "norms": (lambda x: (F.layer_norm(x, (8,)), F.group_norm(x.transpose(1, 2), 2),
                         F.instance_norm(x.transpose(1, 2)), F.rms_norm(x, (8,), eps=1e-6),
                         F.batch_norm(x.transpose(1, 2), torch.zeros(8), torch.ones(8) * 2, eps=1e-3)), (r(2, 5, 8),)),
    "attention": (lambda q, k, v, m: (F.scaled_dot_product_attention(q, k, v),
                                      F.scaled_dot_product_attention(q, k, v, is_causal=True),
                                      F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                                      F.scaled_dot_product_attention(q, k, v, attn_mask=m.float() * -3.0, scale=0.2)),
                  (r(2, 2, 5, 4), r(2, 2, 5, 4), r(2, 2, 5, 4), torch.rand(5, 5) > 0.3)),
    "resize": (lambda x: (F.interpolate(x, scale_factor=2), F.interpolate(x, size=(7, 5), mode="bilinear"),
                          F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
                          F.interpolate(x, scale_factor=2, mode="nearest-exact"), F.pixel_shuffle(x, 2)),
               (r(1, 4, 4, 3),)),
}


class _Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


# integer inputs whose values matter (divisors, indices): checked on the example inputs themselves
GIVEN = {"int_arith", "indexing", "scatter"}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("to", ["onnx", "pytorch"])
def test_native_handlers(case, to, tmp_path):
    fn, inputs = CASES[case]
    out = tmp_path / ("m.onnx" if to == "onnx" else "pt")
    data = {"data": [[t.numpy() for t in inputs]]} if case in GIVEN else {}
    result = mmconvert.convert(_Fn(fn), str(out), to=to, example_inputs=inputs, capture="native", atol=1e-5, **data)
    assert result.graph.metadata["pytorch_route"]["path"] == "native"
    assert result.parity.status == "pass", result.parity.summary()


def test_dynamic_sizes_are_computed_from_the_inputs(tmp_path):
    """Sizes derived from dynamic dims (x.shape[0] * 2, a flatten of a dynamic axis) are graph
    computations, so another size runs."""
    class Sizes(torch.nn.Module):
        def forward(self, x):
            y = x.reshape(x.shape[0] * 2, -1, 3)
            return y.flatten(0, 1) + torch.arange(y.shape[2]), x.new_zeros(x.shape[0], 2).sum(1)

    x = r(4, 6)
    for to in ("onnx", "pytorch"):
        out = tmp_path / ("m.onnx" if to == "onnx" else "pt")
        result = mmconvert.convert(Sizes(), str(out), to=to, example_inputs=(x,), dynamic_shapes={"x": {0: "n"}},
                                   capture="native", dims={"n": 6})
        assert result.parity.status == "pass"
        assert result.graph.type_of(result.graph.outputs[0]).shape == ("2*n", 3)
