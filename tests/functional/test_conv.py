"""conv2d: gradients (float64 gradcheck), PyTorch parity, input checks and cost rule."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.functional as F
from minidl import autograd
from minidl.functional.conv import Conv2d, conv_output_size
from tests.parity import check_gradients, check_torch_parity, on_device, require_torch
from minidl.functional import conv
from tests.functional.kernels import (  # noqa: F401 (cp is a fixture)
    KERNEL_SETTINGS, assert_kernel_close, assert_operator_agrees_with_kernels_on_and_off, cp,
    dtypes, windows)

SETTINGS = dict(max_examples=25, deadline=None)


@st.composite
def conv_configs(draw, max_size=6):
    """A small conv2d problem: arrays and keyword arguments, valid for PyTorch."""
    kind = draw(st.sampled_from(['dense', 'grouped', 'depthwise']))
    if kind == 'dense':
        groups, c_group = 1, draw(st.integers(1, 3))
    elif kind == 'grouped':
        groups, c_group = 2, draw(st.integers(1, 2))
    else:
        groups, c_group = draw(st.integers(1, 3)), 1
    c = groups * c_group
    c_out = groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    # the input is at least as large as the dilated kernel, less the padding
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]), max_size))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]), max_size))
    n = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    weight = rng.standard_normal((c_out, c_group, kh, kw))
    bias = rng.standard_normal(c_out) if draw(st.booleans()) else None
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x, weight, bias, kwargs


def _conv(x, weight, bias=None, **kwargs):
    return F.conv2d(x, weight, bias, **kwargs)


def _arrays(x, weight, bias):
    return [x, weight] + ([bias] if bias is not None else [])


@settings(**SETTINGS)
@given(conv_configs(max_size=5))
def test_conv2d_gradcheck(config):
    x, weight, bias, kwargs = config
    assert check_gradients(_conv, _arrays(x, weight, bias), **kwargs)


@settings(**SETTINGS)
@given(conv_configs())
def test_conv2d_matches_torch(config):
    torch = require_torch()
    x, weight, bias, kwargs = config
    check_torch_parity(_conv, lambda *t, **kw: torch.nn.functional.conv2d(*t, **kw),
                       _arrays(x, weight, bias), **kwargs)


@pytest.mark.parametrize('groups', [1, 2, 4])
@pytest.mark.parametrize('bias', [False, True])
def test_pointwise_conv_matches_torch(groups, bias):
    """1x1, stride 1, no padding: the pure-GEMM path without im2col."""
    torch = require_torch()
    rng = np.random.default_rng(groups)
    arrays = [rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((8, 4 // groups, 1, 1))]
    if bias:
        arrays.append(rng.standard_normal(8))
    check_torch_parity(_conv, lambda *t, **kw: torch.nn.functional.conv2d(*t, **kw),
                       arrays, groups=groups)
    assert check_gradients(_conv, arrays, groups=groups)


@pytest.mark.parametrize('requires_grad', [[True, False, False], [False, True, True],
                                           [False, True, False]])
def test_only_needed_gradients(requires_grad):
    """Gradients of inputs that do not require grad are skipped; the rest still match."""
    torch = require_torch()
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3)),
              rng.standard_normal(4)]
    check_torch_parity(_conv, lambda *t, **kw: torch.nn.functional.conv2d(*t, **kw),
                       arrays, requires_grad=requires_grad, stride=2, padding=1)


def _record(fn):
    """Run ``fn`` and return (function, ctx, inputs, outputs) of every operator it applied."""
    calls = []

    def hook(function, ctx, inputs, outputs):
        calls.append((function, ctx, inputs, outputs))
    with autograd.register_apply_hook(hook):
        fn()
    return calls


def _conv_call(x_grad, w_grad, x_shape=(2, 3, 8, 8), w_shape=(4, 3, 3, 3), **kwargs):
    x = minidl.tensor(on_device(np.random.default_rng(0).standard_normal(x_shape)
                                .astype(np.float32)), requires_grad=x_grad)
    w = minidl.tensor(on_device(np.random.default_rng(1).standard_normal(w_shape)
                                .astype(np.float32)), requires_grad=w_grad)
    (call,) = [c for c in _record(lambda: F.conv2d(x, w, **kwargs)) if c[0] is Conv2d]
    return call


def test_saves_only_what_backward_needs():
    """The input (not its kh*kw times larger columns) is kept for the weight gradient
    only; the weight for the input gradient."""
    _, ctx, inputs, _ = _conv_call(x_grad=True, w_grad=False, padding=1)
    x, weight = ctx.saved_tensors
    assert x is None and weight is not None
    _, ctx, inputs, _ = _conv_call(x_grad=False, w_grad=True, padding=1)
    x, weight = ctx.saved_tensors
    assert weight is None and x is inputs[0] and x.shape == (2, 3, 8, 8)


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    x = minidl.tensor(on_device(rng.standard_normal((2, 3, 7, 7)).astype(np.float32)),
                      requires_grad=True)
    w = minidl.tensor(on_device(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
                      requires_grad=True)
    b = minidl.tensor(on_device(rng.standard_normal(4).astype(np.float32)), requires_grad=True)
    for kwargs in (dict(padding=1, stride=2), dict()):
        out = F.conv2d(x, w, b, **kwargs)
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
        assert out.array.flags.c_contiguous


def test_padding_strings_match_torch():
    torch = require_torch()
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((1, 2, 6, 5)), rng.standard_normal((3, 2, 3, 5))]
    for padding, dilation in (('same', 1), ('valid', 1), ('same', (2, 1))):
        check_torch_parity(_conv, lambda *t, **kw: torch.nn.functional.conv2d(*t, **kw),
                           arrays, padding=padding, dilation=dilation)


def test_same_padding_with_even_kernels_pads_after_like_torch():
    """An odd total padding d*(k-1) puts the extra row/column after the input."""
    torch = require_torch()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 6, 5))
    for kernel, dilation in (((2, 3), 1), ((2, 2), 1), ((4, 1), 1), ((2, 3), 3), ((3, 2), (1, 2))):
        w = rng.standard_normal((3, 2) + kernel)
        check_torch_parity(_conv, lambda *t, **kw: torch.nn.functional.conv2d(*t, **kw),
                           [x, w], padding='same', dilation=dilation)
        check_gradients(_conv, [x, w], padding='same', dilation=dilation)


def test_unbatched_input():
    """A (C, H, W) input is one sample, as PyTorch accepts it."""
    torch = require_torch()
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal((4, 5, 5)), rng.standard_normal((2, 2, 2, 3)), rng.standard_normal(2)]
    for kwargs in (dict(stride=2, padding=1, groups=2), dict(padding='same', groups=2)):
        check_torch_parity(_conv, lambda *t, **kw: torch.nn.functional.conv2d(*t, **kw), arrays,
                           **kwargs)


def test_cat_and_residual_add_of_conv_outputs():
    """Inception-style branches concatenated on channels, then a ResNet-style skip."""
    torch = require_torch()
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((2, 3, 1, 1)),
              rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)]

    def block(x, w1, w3, b3, cat, conv2d, relu):
        branches = cat([conv2d(x, w1), conv2d(x, w3, b3, padding=1)], dim=1)
        skip = cat([x, x], dim=1)  # 6 channels, like the branches
        return relu(branches + skip)

    def ours(*t):
        return block(*t, F.cat, F.conv2d, F.relu)

    def theirs(*t):
        tf = torch.nn.functional
        return block(*t, torch.cat, tf.conv2d, tf.relu)

    check_torch_parity(ours, theirs, arrays)
    assert check_gradients(ours, arrays)


# ---------------------------------------------------------------- cost rule

def _cost(x_grad, w_grad, **kwargs):
    function, ctx, inputs, outputs = _conv_call(x_grad, w_grad, **kwargs)
    return function.cost(ctx, inputs, outputs)


def test_macs_of_resnet_stem():
    """ResNet's first layer: 64 7x7 filters, stride 2, on 224x224 RGB: 118,013,952 MACs."""
    cost = _cost(True, True, x_shape=(1, 3, 224, 224), w_shape=(64, 3, 7, 7),
                 stride=2, padding=3)
    assert cost.macs == 64 * 112 * 112 * 3 * 7 * 7 == 118_013_952
    assert cost.forward_flops == 2 * cost.macs
    assert cost.backward_input_flops == cost.backward_weight_flops == 2 * cost.macs


def test_backward_costs_follow_needed_gradients():
    full = _cost(True, True, padding=1)
    assert _cost(False, True, padding=1).backward_input_flops == 0
    assert _cost(True, False, padding=1).backward_weight_flops == 0
    assert full.macs == 2 * 4 * 8 * 8 * 3 * 3 * 3


def test_grouped_and_depthwise_costs():
    dense = _cost(True, True, x_shape=(2, 8, 6, 6), w_shape=(8, 8, 3, 3), padding=1)
    grouped = _cost(True, True, x_shape=(2, 8, 6, 6), w_shape=(8, 2, 3, 3), padding=1, groups=4)
    depthwise = _cost(True, True, x_shape=(2, 8, 6, 6), w_shape=(8, 1, 3, 3), padding=1,
                      groups=8)
    assert grouped.macs * 4 == dense.macs
    assert depthwise.macs * 8 == dense.macs == 2 * 8 * 6 * 6 * 8 * 3 * 3
    ratio = lambda c: (c.backward_input_flops + c.backward_weight_flops) / c.forward_flops
    assert ratio(depthwise) == ratio(grouped) == ratio(dense) == 2


def test_bias_cost():
    x = minidl.tensor(on_device(np.ones((1, 2, 5, 5), np.float32)), requires_grad=True)
    w = minidl.tensor(on_device(np.ones((3, 2, 3, 3), np.float32)), requires_grad=True)
    b = minidl.tensor(on_device(np.ones(3, np.float32)), requires_grad=True)
    ((function, ctx, inputs, outputs),) = _record(lambda: F.conv2d(x, w, b))
    cost = function.cost(ctx, inputs, outputs)
    out_size = 3 * 3 * 3
    assert cost.macs == out_size * 2 * 9
    assert cost.forward_flops == 2 * cost.macs + out_size
    assert cost.backward_weight_flops == 2 * cost.macs + out_size


def test_conv_output_size():
    assert conv_output_size(224, 7, 2, 3) == 112
    assert conv_output_size(5, 3, dilation=2) == 1
    assert conv_output_size((224, 225), 3, (2, 1), 1) == (112, 225)


# ---------------------------------------------------------------- input checks

def _t(*shape, dtype=np.float32):
    return minidl.tensor(on_device(np.zeros(shape, dtype=dtype)))


def test_rejects_input_without_3_or_4_dimensions():
    with pytest.raises(ValueError, match=r'conv2d: expected a 3-D \(C, H, W\) or 4-D '
                                         r'\(N, C, H, W\) input, got shape \(32, 32\)'):
        F.conv2d(_t(32, 32), _t(8, 3, 3, 3))


def test_rejects_empty_kernel():
    with pytest.raises(ValueError, match=r'conv2d: kernel size should be greater than zero, '
                                         r'got \(0, 3\)'):
        F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 0, 3))


def test_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match=r'conv2d: input has 3 channels, weight expects 4 '
                                         r'\(weight \(8, 4, 3, 3\), groups=1\)'):
        F.conv2d(_t(1, 3, 8, 8), _t(8, 4, 3, 3))
    with pytest.raises(ValueError, match=r'input has 6 channels, weight expects 4 .*groups=2'):
        F.conv2d(_t(1, 6, 8, 8), _t(8, 2, 3, 3), groups=2)


def test_rejects_groups_not_dividing_channels():
    with pytest.raises(ValueError, match=r'conv2d: groups=2 does not divide the input\'s 3'):
        F.conv2d(_t(1, 3, 8, 8), _t(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r'groups=2 does not divide the weight\'s 3 output'):
        F.conv2d(_t(1, 4, 8, 8), _t(3, 2, 3, 3), groups=2)


def test_rejects_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r'conv2d: kernel \(5, 5\) spans \(5, 5\).*larger than '
                                         r'the padded input \(4, 4\)'):
        F.conv2d(_t(1, 1, 4, 4), _t(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r'spans \(5, 3\) with dilation \(2, 1\)'):
        F.conv2d(_t(1, 1, 4, 4), _t(1, 1, 3, 3), dilation=(2, 1))
    assert F.conv2d(_t(1, 1, 4, 4), _t(1, 1, 5, 5), padding=1).shape == (1, 1, 2, 2)


def test_rejects_dtype_mismatch():
    with pytest.raises(TypeError, match=r'conv2d: input is float64 but weight is float32'):
        F.conv2d(_t(1, 3, 8, 8, dtype=np.float64), _t(4, 3, 3, 3))


def test_rejects_bad_bias():
    with pytest.raises(ValueError, match=r'conv2d: bias must have shape \(4,\) for weight '
                                         r'\(4, 3, 3, 3\), got \(3,\)'):
        F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), _t(3))
    with pytest.raises(TypeError, match=r'conv2d: bias is float64 but input is float32'):
        F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), _t(4, dtype=np.float64))


def test_rejects_bad_stride_and_padding():
    with pytest.raises(ValueError, match=r'conv2d: stride must be >= 1'):
        F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), stride=0)
    with pytest.raises(ValueError, match=r'conv2d: padding must be >= 0'):
        F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), padding=-1)
    with pytest.raises(ValueError, match=r"padding='same' needs stride 1"):
        F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), stride=2, padding='same')


# ---------------------------------------------------------------- the CUDA kernels (--device cuda)

@KERNEL_SETTINGS
@given(config=windows(), dtype=dtypes, seed=st.integers(0, 2 ** 31))
def test_im2col_and_col2im_kernels_equal_the_generic_code(cp, config, dtype, seed):
    shape, kernel, stride, padding, dilation = config
    out = tuple(conv_output_size(s, k, st_, p, d) for s, k, st_, p, d in
                zip(shape[2:], kernel, stride, padding, dilation))
    rng = np.random.default_rng(seed)
    x = cp.asarray(rng.standard_normal(shape).astype(dtype))
    assert_kernel_close(conv.im2col_cuda(x, kernel, stride, padding, dilation, out),
                        conv.im2col(x, kernel, stride, padding, dilation, out), dtype, exact=True)
    dcols = cp.asarray(rng.standard_normal((shape[1],) + kernel + (shape[0],) + out)
                       .astype(dtype))
    assert_kernel_close(conv.col2im_cuda(dcols, shape, kernel, stride, padding, dilation, out),
                        conv.col2im(dcols, shape, kernel, stride, padding, dilation, out), dtype)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_conv2d_agrees_with_its_kernels_on_and_off(cp, dtype):
    assert_operator_agrees_with_kernels_on_and_off(
        cp, lambda x, w: F.conv2d(x, w, stride=2, padding=1, dilation=1),
        [(2, 3, 9, 8), (4, 3, 3, 3)], dtype)
    assert_operator_agrees_with_kernels_on_and_off(
        cp, lambda x, w: F.conv2d(x, w, padding=2, dilation=2, groups=2),
        [(2, 4, 7, 7), (6, 2, 3, 3)], dtype)


@pytest.mark.cpu_only
@pytest.mark.parametrize('w_shape, kwargs', [
    ((6, 4, 3, 3), dict(padding=1)),             # input gradient by the flipped kernel
    ((6, 4, 3, 3), dict(stride=2, padding=1)),   # by col2im
    ((6, 4, 1, 1), dict()),                      # pointwise
    ((4, 1, 3, 3), dict(padding=1, groups=4)),   # depthwise
])
def test_blocks_and_threads_do_not_change_the_result(monkeypatch, w_shape, kwargs):
    """On the CPU a batch runs in blocks of images (here 9 images in blocks of 2 and
    1, blocks made small for the test), on as many threads as minidl uses: outputs and
    gradients are the same bits with 1 or 3 threads, and match PyTorch."""
    torch = require_torch()
    monkeypatch.setattr(minidl.backend, '_num_threads', None)
    monkeypatch.setattr(conv, 'PIXELS_PER_BLOCK', 50)
    monkeypatch.setattr(conv, 'COLUMN_BYTES_PER_BLOCK', 1)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((9, 4, 5, 5)).astype(np.float32),
              rng.standard_normal(w_shape).astype(np.float32),
              rng.standard_normal(w_shape[0]).astype(np.float32)]
    assert conv.images_per_block(9, 25, 4 * 9 * 25 * 4) == 2
    results = []
    for threads in (1, 3):
        minidl.set_num_threads(threads)
        x, w, b = (minidl.tensor(a, requires_grad=True) for a in arrays)
        out = F.conv2d(x, w, b, **kwargs)
        out.backward(minidl.tensor(np.cos(np.arange(out.numel())).reshape(out.shape)
                                   .astype(np.float32)))
        results.append([out.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
    for one, three in zip(*results):
        np.testing.assert_array_equal(one, three)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in arrays)
    t_out = torch.nn.functional.conv2d(tx, tw, tb, **kwargs)
    t_out.backward(torch.tensor(np.cos(np.arange(t_out.numel())).reshape(t_out.shape)
                                .astype(np.float32)))
    for ours, theirs in zip(results[0], [t_out, tx.grad, tw.grad, tb.grad]):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.cpu_only
@pytest.mark.parametrize('flat_max_channels', [0, 64])
@pytest.mark.parametrize('w_shape, kwargs', [
    ((16, 6, 5, 5), dict()),                                     # LeNet's conv2: col2im route
    ((6, 1, 5, 5), dict(padding=2)),                             # LeNet's conv1
    ((8, 4, 3, 3), dict(padding=(1, 2), dilation=(2, 1))),
    ((4, 2, 3, 3), dict(padding=1, groups=2)),
])
def test_flat_plane_columns_match_torch(monkeypatch, flat_max_channels, w_shape, kwargs):
    """Stride-1 convolutions with few output channels run on im2col_flat's wide columns
    (FLAT_MAX_CHANNELS 64), the others on im2col's: both give PyTorch's output and
    gradients, in blocks of images."""
    torch = require_torch()
    monkeypatch.setattr(conv, 'FLAT_MAX_CHANNELS', flat_max_channels)
    monkeypatch.setattr(conv, 'COLUMN_BYTES_PER_BLOCK', 1)
    rng = np.random.default_rng(1)
    c_in = w_shape[1] * kwargs.get('groups', 1)
    arrays = [rng.standard_normal((5, c_in, 14, 13)), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0])]
    calls = []
    for name in ('im2col_flat', 'col2im_flat'):
        original = getattr(conv, name)
        monkeypatch.setattr(conv, name, lambda *a, _f=original, _n=name, **k: (
            calls.append(_n), _f(*a, **k))[1])
    check_torch_parity(_conv, lambda *t, **kw: torch.nn.functional.conv2d(*t, **kw),
                       arrays, **kwargs)
    assert bool(calls) == (flat_max_channels == 64)


def test_im2col_flat_holds_im2col_columns_and_col2im_flat_is_its_adjoint():
    """Column y*Wp + x of an image's wide columns is im2col's column (y, x) for x < Wout;
    <im2col_flat(x), D> = <x, col2im_flat(D)> for D zero at the wasted positions."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 6))
    kernel, padding, dilation = (3, 2), (1, 2), (2, 1)
    out = conv.output_size((7, 6), kernel, 1, padding, dilation)
    wide = conv.im2col_flat(x, kernel, padding, dilation, out)
    width = 6 + 2 * padding[1]
    wide = wide.reshape(3 * 3 * 2, 2, out[0], width)
    plain = conv.im2col(x, kernel, (1, 1), padding, dilation, out).reshape(18, 2, *out)
    np.testing.assert_array_equal(wide[..., :out[1]], plain)
    dcols = rng.standard_normal(wide.shape)
    dcols[..., out[1]:] = 0
    back = conv.col2im_flat(dcols.reshape(3, 3, 2, 2, -1), x.shape, kernel, padding, dilation,
                            out)
    np.testing.assert_allclose(np.sum(wide * dcols), np.sum(x * back), rtol=1e-12)
