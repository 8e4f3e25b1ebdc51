"""Tensor: construction, dtypes, conversion, printing and operator delegation."""
import numpy as np
import pytest

import minidl
from tests.parity import require_torch


def test_tensor_keeps_numpy_dtype():
    assert minidl.tensor(np.zeros(3, np.float64)).dtype == np.float64
    assert minidl.tensor(np.zeros(3, np.float32)).dtype == np.float32
    assert minidl.tensor(np.zeros(3, np.int32)).dtype == np.int32


def test_python_data_follows_pytorch_defaults():
    assert minidl.tensor([1.0, 2.0]).dtype == np.float32
    assert minidl.tensor([1, 2]).dtype == np.int64
    assert minidl.tensor([True]).dtype == np.bool_
    assert minidl.tensor([1, 2], dtype=minidl.float64).dtype == np.float64


def test_tensor_copies_its_data():
    a = np.zeros(3)
    t = minidl.tensor(a)
    a[0] = 5
    assert t.numpy()[0] == 0


def test_factories_default_to_float32():
    for make in (minidl.zeros, minidl.ones, minidl.empty, minidl.randn, minidl.rand):
        t = make(2, 3)
        assert t.dtype == np.float32 and t.shape == (2, 3)
    assert minidl.zeros((2, 3)).shape == (2, 3)
    assert minidl.full((2,), 1.5).dtype == np.float32
    assert minidl.full((2,), 7).dtype == np.int64
    assert minidl.arange(5).dtype == np.int64
    assert minidl.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_array_equal(minidl.arange(1, 7, 2).numpy(), [1, 3, 5])
    assert minidl.eye(3).numpy().trace() == 3


def test_like_factories_copy_shape_and_dtype():
    x = minidl.tensor(np.zeros((2, 5), np.float64))
    for make in (minidl.zeros_like, minidl.ones_like, minidl.empty_like, minidl.rand_like,
                 minidl.randn_like):
        y = make(x)
        assert y.shape == (2, 5) and y.dtype == np.float64
    assert minidl.full_like(x, 3.0).numpy().sum() == 30


def test_array_facts():
    t = minidl.randn(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.numel() == 24 and len(t) == 2
    assert t.device == minidl.device('cpu') and not t.is_cuda


def test_item_and_tolist():
    assert minidl.tensor([[2.5]]).item() == 2.5
    assert minidl.tensor([1, 2]).tolist() == [1, 2]
    with pytest.raises(RuntimeError, match='3 elements'):
        minidl.tensor([1, 2, 3]).item()


def test_numpy_is_a_copy():
    t = minidl.zeros(3)
    t.numpy()[0] = 1
    assert t.numpy()[0] == 0


def test_to_dtype_is_differentiable():
    x = minidl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32
    (y * 3).backward(minidl.ones(2))
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])
    assert x.to('cpu') is x


def test_scalar_operands_keep_float32():
    x = minidl.randn(3)
    for y in (x + 1.5, 2.0 * x, x / 3, 1 - x, x ** 2, 2 ** x, -x, abs(x)):
        assert y.dtype == np.float32


def test_numpy_operand_on_the_left():
    x = minidl.ones(3)
    y = np.ones(3, np.float32) + x
    assert isinstance(y, minidl.Tensor)


def test_comparisons_give_bool_tensors():
    x = minidl.tensor([1.0, 2.0, 3.0])
    assert (x > 1.5).tolist() == [False, True, True]
    assert (x == 2.0).tolist() == [False, True, False]
    assert (x <= x).tolist() == [True, True, True]
    assert hash(x) != hash(minidl.tensor([1.0]))


def test_setitem_outside_graph():
    x = minidl.zeros(3)
    x[1] = 5.0
    assert x.tolist() == [0, 5, 0]
    w = minidl.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match='leaf Variable that requires grad'):
        w[0] = 1.0
    with minidl.no_grad():
        w[0] = 1.0
    assert w.tolist() == [1, 0]


def test_requires_grad_only_on_leaves():
    x = minidl.ones(2, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match='leaf'):
        y.requires_grad = False
    assert x.requires_grad_(False) is x and not x.requires_grad


def test_repr_like_pytorch():
    torch = require_torch()
    data = np.array([[1.0, 2.5], [3.0, 4.0]], np.float32)
    assert repr(minidl.tensor(data)) == repr(torch.tensor(data))
    assert repr(minidl.tensor(data, requires_grad=True)) == repr(torch.tensor(data, requires_grad=True))
    assert repr(minidl.tensor([1, 2, 3])) == repr(torch.tensor([1, 2, 3]))
    assert repr(minidl.tensor(2.5)) == repr(torch.tensor(2.5))
    y = minidl.tensor(data, requires_grad=True) * 2
    assert 'grad_fn=<MulBackward>' in repr(y)
    d = repr(minidl.tensor(np.array([1.0, 2.0])))
    assert d == 'tensor([1., 2.], dtype=minidl.float64)'


def test_bool_of_tensor():
    assert bool(minidl.tensor([1.0]))
    with pytest.raises(RuntimeError, match='ambiguous'):
        bool(minidl.ones(2))


def test_in_place_helpers():
    x = minidl.zeros(3)
    x.fill_(2.0).add_(1.0).mul_(2.0)
    assert x.tolist() == [6, 6, 6]
    x.zero_()
    assert x.tolist() == [0, 0, 0]
    x.copy_(minidl.tensor([1.0, 2.0, 3.0]))
    assert x.tolist() == [1, 2, 3]


def test_factories_take_size_and_randint_high_only():
    torch = require_torch()
    for make in (minidl.zeros, minidl.ones, minidl.empty, minidl.rand, minidl.randn):
        assert make(size=(2, 3)).shape == (2, 3)
    with pytest.raises(TypeError, match='not both'):
        minidl.zeros(2, size=(2,))
    r = minidl.randint(10, (50,))
    assert r.shape == (50,) and r.dtype == np.int64 and 0 <= r.numpy().min() and r.numpy().max() < 10
    assert minidl.randint(3, 5, size=(4,)).numpy().min() >= 3
    np.testing.assert_allclose(minidl.logspace(0, 2, 3).numpy(), torch.logspace(0, 2, 3).numpy())
    np.testing.assert_allclose(minidl.logspace(0, 3, 4, base=2).numpy(), [1, 2, 4, 8])
    np.testing.assert_allclose(minidl.linspace(-1, 1, 5).numpy(), torch.linspace(-1, 1, 5).numpy())


def test_normal_factory():
    g = minidl.Generator().manual_seed(0)
    n = minidl.normal(2.0, 0.5, size=(2000,), generator=g)
    assert n.dtype == np.float32 and abs(n.numpy().mean() - 2) < 0.05
    mean = minidl.tensor(np.array([0.0, 100.0]), requires_grad=True)
    m = minidl.normal(mean, 1.0)
    assert m.dtype == np.float64 and m.shape == (2,) and abs(m.numpy()[1] - 100) < 6
    assert not m.requires_grad                     # not differentiable, as in PyTorch
    assert minidl.normal(minidl.zeros(3), minidl.ones(2, 1)).shape == (2, 3)
    with pytest.raises(TypeError, match='size='):
        minidl.normal(0.0, 1.0)


def test_type_and_conversions():
    torch = require_torch()
    data = np.array([1.5, -2.5])
    ours, theirs = minidl.tensor(data), torch.tensor(data)
    assert ours.type() == theirs.type() == 'torch.DoubleTensor'
    for name in ('float', 'double', 'long', 'int', 'bool', 'half'):
        mine, ref = getattr(ours, name)(), getattr(theirs, name)()
        assert str(mine.dtype) == str(ref.dtype).replace('torch.', '')
        np.testing.assert_array_equal(mine.numpy(), ref.numpy())
    assert ours.type(minidl.float32).dtype == np.float32
    assert ours.type('torch.LongTensor').type() == theirs.type('torch.LongTensor').type()
    with pytest.raises(ValueError, match='invalid type'):
        ours.type('torch.NoSuchTensor')


def test_format_of_zero_dim_tensors():
    torch = require_torch()
    assert f'{minidl.tensor(3.14159):.3f}' == f'{torch.tensor(3.14159):.3f}' == '3.142'
    assert f'{minidl.tensor([1.0, 2.0])}' == str(minidl.tensor([1.0, 2.0]))
    with pytest.raises(TypeError):
        f'{minidl.tensor([1.0]):.2f}'     # as in PyTorch: only 0-d tensors take a format


def test_equal_max_min_argmax():
    torch = require_torch()
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert minidl.equal(minidl.tensor(a), minidl.tensor(a.copy()))
    assert not minidl.equal(minidl.tensor(a), minidl.tensor(a[:1]))
    assert not minidl.tensor(a).equal(minidl.tensor(a + 1))
    values, indices = minidl.max(minidl.tensor(a), 1)
    result = minidl.tensor(a).min(dim=0)
    assert result.values.tolist() == [1, 0, 2] and result.indices.tolist() == [0, 1, 0]
    assert values.tolist() == [5, 7] and indices.tolist() == [1, 0]
    assert minidl.argmax(minidl.tensor(a), axis=1).tolist() == torch.argmax(torch.tensor(a), axis=1).tolist()
    assert minidl.tensor(a).argmin(axis=0).tolist() == [0, 1, 0]


def test_method_aliases_of_functions():
    torch = require_torch()
    a = np.arange(12.0).reshape(3, 4) - 5
    m, t = minidl.tensor(a), torch.tensor(a)
    pairs = [
        (m.mm(m.T), t.mm(t.T)), (m.reshape(1, 3, 4).bmm(m.T.reshape(1, 4, 3)),
                                 t.reshape(1, 3, 4).bmm(t.T.reshape(1, 4, 3))),
        (m.narrow(1, 1, 2), t.narrow(1, 1, 2)), (m.clamp_min(0), t.clamp_min(0)),
        (m.clamp_max(1), t.clamp_max(1)), (m.view_as(m.T), t.view_as(t.T)),
        (m.amax(1), t.amax(1)), (m.amin((0, 1)), t.amin((0, 1))),
        (m.eq(1.0), t.eq(1.0)), (m.ne(m), t.ne(t)), (m.lt(0), t.lt(0)), (m.le(0), t.le(0)),
        (m.gt(2), t.gt(2)), (m.ge(2), t.ge(2)), (m.add(m, alpha=2), t.add(t, alpha=2)),
        (m.div(3, rounding_mode='floor'), t.div(3, rounding_mode='floor')),
        (m.long().div(3, rounding_mode='trunc'), t.long().div(3, rounding_mode='trunc')),
    ]
    for k, (ours, theirs) in enumerate(pairs):
        assert ours.shape == tuple(theirs.shape), k
        assert str(ours.dtype) == str(theirs.dtype).replace('torch.', ''), k
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), err_msg=str(k))
    assert m.size(-1) == 4 and m.numel() == 12


def test_equality_with_non_numbers_is_identity_like_pytorch():
    torch = require_torch()
    for t in (minidl.ones(2), torch.ones(2)):
        assert (t == None) is False and (t != 'a') is True    # noqa: E711
        assert (t == [1.0, 0.0]) is False


def test_grad_assignment_is_checked_like_pytorch():
    w = minidl.zeros(2, 3, requires_grad=True)
    w.grad = minidl.ones(2, 3)
    w.grad = None
    assert w.grad is None
    with pytest.raises(RuntimeError, match='different size'):
        w.grad = minidl.ones(3, 2)
    with pytest.raises(RuntimeError, match='different type'):
        w.grad = minidl.ones(2, 3, dtype=minidl.float64)
    with pytest.raises(TypeError, match='Tensor or None'):
        w.grad = np.ones((2, 3))
    w.requires_grad = False
    assert not w.requires_grad and w.is_leaf


# ---------------------------------------------------------------- new_*, Size

def test_new_factories_take_this_tensors_dtype_and_device():
    torch = require_torch()
    ours, theirs = minidl.ones(2, dtype=minidl.float64), torch.ones(2, dtype=torch.float64)
    for call in (lambda t: t.new_zeros(2, 3), lambda t: t.new_zeros((2, 3)),
                 lambda t: t.new_ones(size=(1, 2)), lambda t: t.new_full((2,), 3),
                 lambda t: t.new_tensor([1, 2]), lambda t: t.new_zeros(()),
                 lambda t: t.new_ones(2, dtype=t.int().dtype if isinstance(t, minidl.Tensor)
                                      else torch.int32)):
        o, r = call(ours), call(theirs)
        assert o.shape == tuple(r.shape) and o.dtype == r.numpy().dtype
        np.testing.assert_array_equal(o.numpy(), r.numpy())
        assert o.is_leaf and not o.requires_grad
    empty = ours.new_empty(2, 3, requires_grad=True)
    assert empty.shape == (2, 3) and empty.dtype == np.float64 and empty.requires_grad
    copied = ours.new_tensor(ours)
    copied.add_(1)
    assert ours[0].item() == 1.0     # new_tensor copies


def test_shape_is_a_size():
    torch = require_torch()
    t = minidl.zeros(2, 3)
    assert isinstance(t.shape, minidl.Size) and isinstance(t.size(), tuple)
    assert t.shape == (2, 3) and t.size() == torch.Size([2, 3]) and hash(t.shape) == hash((2, 3))
    assert repr(t.shape) == str(t.shape) == repr(torch.zeros(2, 3).shape) == 'torch.Size([2, 3])'
    assert repr(t.shape[1:]) == 'torch.Size([3])' and t.shape[0] == 2
    assert repr(t.shape + (4,)) == 'torch.Size([2, 3, 4])' and t.shape.numel() == 6
    assert f'{t.shape}' == '(2, 3)'     # minidl's messages give shapes as tuples
    assert repr(minidl.zeros(()).shape) == repr(torch.Size([])) and minidl.Size([]).numel() == 1
