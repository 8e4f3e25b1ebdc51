"""Winograd F(2x2, 3x3) convolution (minidl/functional/_winograd.py)."""
import numpy as np
import pytest

import minidl
import minidl.functional as F
from minidl.functional import _winograd as winograd, conv
from tests.parity import check_gradients, check_torch_parity, require_torch

pytestmark = pytest.mark.cpu_only


def test_transforms_compute_a_3x3_correlation_on_one_tile():
    """Y = A^T [(G g G^T) * (B^T d B)] A is the 2x2 valid correlation of a 4x4 tile d
    with a 3x3 kernel g (Lavin & Gray 2016, eq. 8)."""
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    product = (winograd.G @ g @ winograd.G.T) * (winograd.BT @ d @ winograd.BT.T)
    expected = [[np.sum(d[y:y + 3, x:x + 3] * g) for x in range(2)] for y in range(2)]
    np.testing.assert_allclose(winograd.AT @ product @ winograd.AT.T, expected, rtol=1e-12)


@pytest.mark.parametrize('x_shape, c_out, padding', [
    ((2, 3, 5, 6), 4, 1), ((1, 2, 4, 4), 3, 0), ((3, 4, 7, 5), 2, 2), ((2, 5, 8, 8), 6, 1),
    ((1, 1, 3, 3), 1, 0)])
def test_forward_and_backward_match_torch_in_float64(x_shape, c_out, padding):
    """Odd and even sizes (a last tile half outside the output), padding 0 to 2."""
    torch = require_torch()
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((c_out, x_shape[1], 3, 3))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, padding=padding)
    g = rng.standard_normal(ty.shape)
    ty.backward(torch.tensor(g))
    u = winograd.weight_transform(w)
    out = np.empty(ty.shape)
    winograd.forward(x, u, (padding, padding), out)
    grad_x, grad_u = winograd.backward(x, g, u, x_shape[2:], (padding, padding), True, True)
    for ours, theirs in [(out, ty), (grad_x, tx.grad), (winograd.weight_gradient(grad_u), tw.grad)]:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.fixture
def small_winograd(monkeypatch):
    """Route every floating-point 3x3 stride-1 convolution of at least 2 channels,
    whatever its output size, through Winograd, in blocks of about 8 tiles."""
    monkeypatch.setattr(conv, 'WINOGRAD_MIN_CHANNELS', 2)
    monkeypatch.setattr(conv, 'WINOGRAD_TILES_PER_BLOCK', 8)
    original = conv._winograd_pays

    def pays(xp, x_shape, w_shape, stride, dilation, groups, out_size, dtype=np.float32):
        small = tuple(max(8, s) for s in out_size)
        return original(xp, x_shape, w_shape, stride, dilation, groups, small, dtype)
    monkeypatch.setattr(conv, '_winograd_pays', pays)


def _takes_winograd(x, w, padding):
    out = F.conv2d(minidl.tensor(x), minidl.tensor(w, requires_grad=True), padding=padding)
    return out.grad_fn.ctx.winograd


@pytest.mark.parametrize('requires_grad', [(True, True, True), (False, True, False),
                                           (True, False, True)])
def test_conv2d_by_winograd_gradcheck(small_winograd, requires_grad):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((3, 2, 5, 4)), rng.standard_normal((3, 2, 3, 3)),
              rng.standard_normal(3)]
    assert _takes_winograd(*arrays[:2], padding=1)
    assert check_gradients(lambda x, w, b: F.conv2d(x, w, b, padding=1), arrays,
                           requires_grad=list(requires_grad))


@pytest.mark.parametrize('padding', [0, 1, 2])
def test_conv2d_by_winograd_matches_torch(small_winograd, padding):
    torch = require_torch()
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((9, 4, 7, 6)), rng.standard_normal((5, 4, 3, 3)),
              rng.standard_normal(5)]
    assert _takes_winograd(*arrays[:2], padding=padding)
    check_torch_parity(lambda x, w, b: F.conv2d(x, w, b, padding=padding),
                       lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=padding),
                       arrays)


def test_which_convolutions_take_winograd():
    """ResNet's layer2 and layer3 3x3 convolutions do; layer1 (64 channels), layer4 (a
    4x4 output), strided, dilated, grouped and 5x5 ones do not."""
    def takes(x_shape, w_shape, stride=(1, 1), dilation=(1, 1), groups=1):
        out = conv.output_size(x_shape[2:], w_shape[2:], stride, 1, dilation)
        return conv._winograd_pays(np, x_shape, w_shape, stride, dilation, groups, out)
    assert takes((32, 128, 16, 16), (128, 128, 3, 3))
    assert takes((32, 256, 8, 8), (256, 256, 3, 3))
    assert not takes((32, 64, 32, 32), (64, 64, 3, 3))
    assert not takes((32, 512, 4, 4), (512, 512, 3, 3))
    assert not takes((32, 128, 16, 16), (256, 128, 3, 3), stride=(2, 2))
    assert not takes((32, 128, 16, 16), (128, 128, 3, 3), dilation=(2, 2))
    assert not takes((32, 128, 16, 16), (128, 64, 3, 3), groups=2)
    assert not takes((32, 128, 16, 16), (128, 128, 5, 5))


def test_float32_resnet_layer_matches_torch_and_threads_do_not_change_it(threads,
                                                                          monkeypatch):
    """A layer3 convolution in float32, in blocks (made small) on 1 and 3 threads: the
    same bits, and PyTorch's output and gradients to float32 accuracy."""
    torch = require_torch()
    monkeypatch.setattr(conv, 'WINOGRAD_TILES_PER_BLOCK', 16)
    monkeypatch.setattr(minidl.backend, 'BYTES_PER_BLOCK', 16 * 96 * 4 * 8)
    assert conv._winograd_grain(6, (8, 8)) == 1                      # 6 blocks of images
    assert minidl.backend.grain(96, 8) == 8                          # 12 of channels
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 96, 8, 8)).astype(np.float32)
    w = (rng.standard_normal((96, 96, 3, 3)) * 0.05).astype(np.float32)
    g = rng.standard_normal((6, 96, 8, 8)).astype(np.float32)
    results = []
    for n_threads in (1, 3):
        threads(n_threads)
        mx, mw = minidl.tensor(x, requires_grad=True), minidl.tensor(w, requires_grad=True)
        out = F.conv2d(mx, mw, padding=1)
        assert out.grad_fn.ctx.winograd
        out.backward(minidl.tensor(g))
        results.append([out.numpy(), mx.grad.numpy(), mw.grad.numpy()])
    for one, three in zip(*results):
        np.testing.assert_array_equal(one, three)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, padding=1)
    ty.backward(torch.tensor(g))
    for ours, theirs in zip(results[0], [ty, tx.grad, tw.grad]):
        theirs = theirs.detach().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())


def test_integer_convolutions_do_not_take_winograd():
    """G's halves have no integer form: an int64 convolution stays on im2col, exact."""
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 3, (2, 96, 8, 8))
    w = rng.integers(-3, 3, (96, 96, 3, 3))
    out = F.conv2d(minidl.tensor(x), minidl.tensor(w), padding=1)
    expected = F.conv2d(minidl.tensor(x.astype(np.float64)), minidl.tensor(w.astype(np.float64)),
                        padding=1)
    assert out.dtype == minidl.int64
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


@pytest.mark.parametrize('shape, w_shape', [((0, 96, 8, 8), (96, 96, 3, 3)),   # Winograd
                                            ((0, 3, 5, 5), (4, 3, 3, 3))])       # im2col
def test_an_empty_batch_has_zero_weight_gradients(shape, w_shape):
    x = minidl.tensor(np.zeros(shape, np.float32), requires_grad=True)
    w = minidl.tensor(np.ones(w_shape, np.float32), requires_grad=True)
    b = minidl.tensor(np.ones(w_shape[0], np.float32), requires_grad=True)
    F.conv2d(x, w, b, padding=1).sum().backward()
    assert x.grad.shape == shape and not w.grad.numpy().any() and not b.grad.numpy().any()
