"""gather, scatter, index_*, masked_fill, sort, topk: gradcheck in float64 and PyTorch
parity on drawn shapes, indices and dims."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.functional as F
from tests.parity import check_gradients, check_torch_parity, on_device, require_torch

FAST = settings(max_examples=10, deadline=None)


@st.composite
def gather_case(draw):
    """An input shape, a dim, and an index no larger than the input except along dim."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    d = dim % len(shape)
    index_shape = tuple(draw(st.integers(1, 5)) if i == d else draw(st.integers(1, n))
                        for i, n in enumerate(shape))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), dim, rng.integers(0, shape[d], index_shape), rng


def _t(a):
    return minidl.tensor(on_device(a))


@FAST
@given(case=gather_case())
def test_gather(case):
    torch = require_torch()
    x, dim, index, _ = case
    ours = lambda t: F.gather(t, dim, _t(index))  # noqa: E731
    theirs = lambda t: torch.gather(t, dim, torch.tensor(index, device=t.device))  # noqa: E731
    check_gradients(ours, [x])
    check_torch_parity(ours, theirs, [x])


@FAST
@given(case=gather_case(), add=st.booleans())
def test_scatter_and_scatter_add(case, add):
    torch = require_torch()
    x, dim, index, rng = case
    d = dim % x.ndim
    if not add:   # unique positions along dim, so that no two writes compete
        index = np.argsort(rng.random(x.shape), axis=d)
        index = index[tuple(slice(0, min(n, index.shape[i])) for i, n in enumerate(x.shape))]
    src = rng.standard_normal(index.shape)
    name = 'scatter_add' if add else 'scatter'
    ours = lambda t, s: getattr(F, name)(t, dim, _t(index), s)  # noqa: E731
    theirs = lambda t, s: getattr(torch, name)(t, dim, torch.tensor(index, device=t.device), s)  # noqa: E731
    check_gradients(ours, [x, src])
    check_torch_parity(ours, theirs, [x, src])


def test_scatter_value_and_errors():
    torch = require_torch()
    index = np.array([[1, 0], [2, 2]])
    x = np.arange(6.0).reshape(2, 3)
    check_torch_parity(lambda t: F.scatter(t, 1, _t(index), value=-1.0),
                       lambda t: torch.scatter(t, 1, torch.tensor(index), value=-1.0), [x])
    with pytest.raises(IndexError, match='index 3 is out of bounds for dimension 1 with size 3'):
        F.gather(_t(x), 1, _t(np.array([[3], [0]])))
    with pytest.raises(RuntimeError, match='index has 1 dimensions, the input has 2'):
        F.gather(_t(x), 1, _t(np.array([0])))
    with pytest.raises(TypeError, match='must be an integer tensor'):
        F.gather(_t(x), 1, _t(x))


@FAST
@given(case=gather_case(), alpha=st.sampled_from([1, 2.5]))
def test_index_select_add_fill(case, alpha):
    torch = require_torch()
    x, dim, _, rng = case
    d = dim % x.ndim
    index = rng.integers(0, x.shape[d], rng.integers(1, 5))         # repeats allowed
    source = rng.standard_normal(x.shape[:d] + (len(index),) + x.shape[d + 1:])
    it = lambda t: torch.tensor(index, device=t.device)  # noqa: E731
    check_gradients(lambda t: F.index_select(t, dim, _t(index)), [x])
    check_torch_parity(lambda t: t.index_select(dim, _t(index)),
                       lambda t: t.index_select(dim, it(t)), [x])
    check_gradients(lambda t, s: F.index_add(t, dim, _t(index), s, alpha=alpha), [x, source])
    check_torch_parity(lambda t, s: F.index_add(t, dim, _t(index), s, alpha=alpha),
                       lambda t, s: torch.index_add(t, dim, it(t), s, alpha=alpha), [x, source])
    check_torch_parity(lambda t: F.index_fill(t, dim, _t(index), 0.5),
                       lambda t: torch.index_fill(t, dim, it(t), 0.5), [x])


@FAST
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       seed=st.integers(0, 2**16), tensor_value=st.booleans())
def test_masked_fill(shape, seed, tensor_value):
    torch = require_torch()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    mask = rng.random(shape[-1:]) > 0.5                  # broadcast along the other dims
    if tensor_value:
        ours = lambda t, v: F.masked_fill(t, _t(mask), v)  # noqa: E731
        theirs = lambda t, v: t.masked_fill(torch.tensor(mask, device=t.device), v)  # noqa: E731
        check_gradients(ours, [x, np.array(0.7)])
        check_torch_parity(ours, theirs, [x, np.array(0.7)])
    else:
        ours = lambda t: t.masked_fill(_t(mask), -2.0)  # noqa: E731
        theirs = lambda t: t.masked_fill(torch.tensor(mask, device=t.device), -2.0)  # noqa: E731
        check_gradients(ours, [x])
        check_torch_parity(ours, theirs, [x])


@FAST
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
       seed=st.integers(0, 2**16), descending=st.booleans(), data=st.data())
def test_sort_and_topk(shape, seed, descending, data):
    torch = require_torch()
    x = np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) / 7.0
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(0, shape[dim]))
    check_gradients(lambda t: F.sort(t, dim, descending).values, [x])
    check_torch_parity(lambda t: F.sort(t, dim, descending),
                       lambda t: torch.sort(t, dim, descending), [x])
    check_gradients(lambda t: F.topk(t, k, dim, descending).values, [x])
    check_torch_parity(lambda t: t.topk(k, dim, largest=descending),
                       lambda t: t.topk(k, dim, largest=descending), [x])
    check_torch_parity(lambda t: t.argsort(dim, descending), lambda t: t.argsort(dim, descending),
                       [x], requires_grad=[False])


def test_sort_is_stable_and_named():
    torch = require_torch()
    data = np.array([3, 1, 3, 2, 1, 3])
    ours, theirs = F.sort(_t(data), descending=True, stable=True), \
        torch.sort(torch.tensor(data), descending=True, stable=True)
    assert ours.values.tolist() == theirs.values.tolist()
    assert ours.indices.tolist() == theirs.indices.tolist()
    top = F.topk(_t(np.array([1.0, 9.0, 4.0])), 2)
    assert top.values.tolist() == [9, 4] and top.indices.tolist() == [1, 2]
    with pytest.raises(RuntimeError, match=r'k \(4\) is out of range'):
        F.topk(_t(np.ones(3)), 4)


def test_zero_dimensional_inputs_and_empty_indices_like_pytorch():
    """A 0-d input acts as a 1-D one of one element; an empty gather index gives an
    empty result of its own shape."""
    torch = require_torch()
    x, i0, i1 = np.array(3.0), np.array(0), np.array([0])
    check_torch_parity(lambda t: F.gather(t, 0, _t(i1)), lambda t: torch.gather(t, 0, torch.tensor(i1)), [x])
    check_torch_parity(lambda t: F.gather(t, 0, _t(i0)), lambda t: torch.gather(t, 0, torch.tensor(i0)), [x])
    check_torch_parity(lambda t, s: F.scatter(t, 0, _t(i0), s),
                       lambda t, s: torch.scatter(t, 0, torch.tensor(i0), s), [x, np.array(5.0)])
    check_torch_parity(lambda t, s: F.scatter_add(t, 0, _t(i0), s),
                       lambda t, s: torch.scatter_add(t, 0, torch.tensor(i0), s), [x, np.array(5.0)])
    check_torch_parity(lambda t, s: F.index_add(t, 0, _t(i1), s, alpha=2),
                       lambda t, s: torch.index_add(t, 0, torch.tensor(i1), s, alpha=2),
                       [x, np.array(5.0)])
    check_torch_parity(lambda t: F.index_fill(t, 0, _t(i1), -1.0),
                       lambda t: torch.index_fill(t, 0, torch.tensor(i1), -1.0), [x])
    empty = np.zeros((2, 0), np.int64)
    check_torch_parity(lambda t: F.gather(t, 0, _t(empty)),
                       lambda t: torch.gather(t, 0, torch.tensor(empty)), [np.ones(5)])


def test_masked_fill_mask_broadcasts_the_input_and_value_is_0d():
    torch = require_torch()
    mask = np.random.default_rng(1).random((5, 5)) > 0.5
    check_torch_parity(lambda t: F.masked_fill(t, _t(mask), 2.0),
                       lambda t: torch.masked_fill(t, torch.tensor(mask), 2.0), [np.ones(5)])
    with pytest.raises(RuntimeError, match=r'masked_fill: value must be a number or a '
                                           r'0-dimensional tensor, got shape \(1,\)'):
        F.masked_fill(_t(np.ones((2, 2))), _t(np.array(True)), _t(np.ones(1)))


def test_scatter_src_must_share_the_dtype():
    with pytest.raises(TypeError, match='scatter_add: src is float32 but the input is float64'):
        F.scatter_add(_t(np.zeros((3, 5))), 0, _t(np.zeros((2, 2), np.int64)),
                      _t(np.ones((2, 5), np.float32)))


# ---------------------------------------------------------------- nonzero, one_hot

def test_nonzero():
    torch = require_torch()
    rng = np.random.default_rng(0)
    for array in (rng.integers(0, 2, (3, 4)) * 1.0, rng.integers(0, 3, (2, 3, 2)),
                  np.zeros((2, 0)), np.array(2.0), np.array(0.0), np.array([True, False])):
        t, ref = minidl.tensor(on_device(array)), torch.tensor(array)
        ours, theirs = t.nonzero(), torch.nonzero(ref)
        assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        ours, theirs = minidl.nonzero(t, as_tuple=True), torch.nonzero(ref, as_tuple=True)
        assert len(ours) == len(theirs)
        for o, r in zip(ours, theirs):
            np.testing.assert_array_equal(o.numpy(), r.numpy())


def test_one_hot():
    torch = require_torch()
    for classes, num_classes in (([0, 2, 1], -1), ([[1, 0], [3, 3]], 5), ([], 4), (4, -1)):
        ours = F.one_hot(minidl.tensor(on_device(np.array(classes, dtype=np.int64))), num_classes)
        theirs = torch.nn.functional.one_hot(torch.tensor(classes, dtype=torch.long), num_classes)
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(RuntimeError, match='one_hot: is only applicable to index tensors of '
                                           'type int64'):
        F.one_hot(minidl.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match='one_hot: can not infer the total number of classes'):
        F.one_hot(minidl.tensor(np.zeros(0, dtype=np.int64)))
    with pytest.raises(RuntimeError, match='one_hot: class values must be non-negative'):
        F.one_hot(minidl.tensor([-1, 0]))
    with pytest.raises(RuntimeError, match=r'one_hot: class values must be smaller than '
                                           r'num_classes \(3\)'):
        F.one_hot(minidl.tensor([3]), 3)
