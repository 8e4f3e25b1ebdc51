"""Shape operators: gradcheck in float64 and PyTorch parity."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.functional as F
from tests.parity import check_gradients, check_torch_parity, on_device, require_torch

FAST = settings(max_examples=25, deadline=None)
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


def _draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _both(ours, theirs, arrays, **kwargs):
    check_gradients(ours, arrays, **kwargs)
    check_torch_parity(ours, theirs, arrays, **kwargs)


@FAST
@given(shape=shapes, seed=st.integers(0, 2**16), data=st.data())
def test_reshape_view_flatten(shape, seed, data):
    require_torch()
    x = _draw(shape, seed)
    n = x.size
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    first = data.draw(st.sampled_from(divisors))
    target = data.draw(st.sampled_from([(first, -1), (-1, first), (first, n // first, 1), (n,)]))
    _both(lambda t: t.reshape(target), lambda t: t.reshape(target), [x])
    _both(lambda t: F.view(t, target), lambda t: t.view(target), [x])
    start = data.draw(st.integers(-len(shape), len(shape) - 1))
    end = data.draw(st.integers(start % len(shape), len(shape) - 1))
    _both(lambda t: F.flatten(t, start, end), lambda t: t.flatten(start, end), [x])


@FAST
@given(shape=shapes, seed=st.integers(0, 2**16), data=st.data())
def test_permute_transpose(shape, seed, data):
    require_torch()
    x = _draw(shape, seed)
    dims = tuple(data.draw(st.permutations(range(len(shape)))))
    d0, d1 = data.draw(st.tuples(*[st.integers(-len(shape), len(shape) - 1)] * 2))
    _both(lambda t: t.permute(*dims), lambda t: t.permute(*dims), [x])
    _both(lambda t: F.transpose(t, d0, d1), lambda t: t.transpose(d0, d1), [x])
    _both(lambda t: t.T, lambda t: t.permute(*reversed(range(t.ndim))), [x])


@FAST
@given(shape=st.lists(st.sampled_from([1, 1, 2, 3]), min_size=1, max_size=4).map(tuple),
       seed=st.integers(0, 2**16), data=st.data())
def test_squeeze_unsqueeze(shape, seed, data):
    require_torch()
    x = _draw(shape, seed)
    n = len(shape)
    dim = data.draw(st.integers(-n, n - 1))
    new = data.draw(st.integers(-n - 1, n))
    _both(lambda t: t.squeeze(), lambda t: t.squeeze(), [x])
    _both(lambda t: t.squeeze(dim), lambda t: t.squeeze(dim), [x])
    _both(lambda t: F.unsqueeze(t, new), lambda t: t.unsqueeze(new), [x])


@FAST
@given(shape=st.lists(st.sampled_from([1, 1, 2, 3]), min_size=1, max_size=3).map(tuple),
       seed=st.integers(0, 2**16), data=st.data())
def test_expand(shape, seed, data):
    require_torch()
    x = _draw(shape, seed)
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2))
    sizes = tuple(lead) + tuple(data.draw(st.sampled_from([-1, 3])) if s == 1
                                else data.draw(st.sampled_from([-1, s])) for s in shape)
    _both(lambda t: t.expand(*sizes), lambda t: t.expand(*sizes), [x])


def test_expand_as_and_errors():
    require_torch()
    x, y = _draw((3, 1)), _draw((2, 3, 4))
    _both(lambda a, b: a.expand_as(b), lambda a, b: a.expand_as(b), [x, y], requires_grad=[True, False])
    t = minidl.tensor(on_device(x))
    with pytest.raises(ValueError, match=r'expand: .*\(3, 1\) cannot expand to \(2, 4\)'):
        t.expand(2, 4)
    with pytest.raises(ValueError, match='expand: -1 is not allowed'):
        t.expand(-1, 3, 2)


INDEXES = [
    lambda m: (1,),
    lambda m: (slice(1, None), None, 0),
    lambda m: (Ellipsis, slice(None, None, 2)),
    lambda m: (-1, Ellipsis, None),
    lambda m: (m.tensor([0, 2, 0, 0]),),                    # repeated indices accumulate
    lambda m: (slice(None), m.tensor([[1, 1], [0, 1]])),
    lambda m: (m.tensor([2, 0]), slice(None), m.tensor([1, 1])),
    lambda m: (m.tensor([True, False, True]),),
    lambda m: ([0, 0, 1],),
    lambda m: (m.tensor(1), slice(0, 2)),
]


@pytest.mark.parametrize('case', range(len(INDEXES)))
def test_getitem(case):
    torch = require_torch()
    x = _draw((3, 2, 4), case)

    def ours(t):
        return t[tuple(_on_device(i) for i in INDEXES[case](minidl))]

    def theirs(t):
        return t[INDEXES[case](torch)]

    _both(ours, theirs, [x])


def _on_device(index):
    if isinstance(index, minidl.Tensor):
        return minidl.tensor(on_device(index.array))
    return index


@FAST
@given(seed=st.integers(0, 2**16))
def test_getitem_boolean_mask_of_whole_tensor(seed):
    torch = require_torch()
    x = _draw((3, 4), seed)
    mask = x > 0.2
    _both(lambda t: t[minidl.tensor(on_device(mask))], lambda t: t[torch.tensor(mask)], [x])


def test_getitem_non_contiguous_and_narrow():
    torch = require_torch()
    x = _draw((4, 3)).T
    _both(lambda t: t[1:, [0, 3, 3]], lambda t: t[1:, [0, 3, 3]], [x])
    _both(lambda t: F.narrow(t, 1, 1, 2), lambda t: t.narrow(1, 1, 2), [x])
    _both(lambda t: F.narrow(t, -1, -3, 3), lambda t: t.narrow(-1, -3, 3), [x])
    with pytest.raises(IndexError, match='narrow: start 2 \\+ length 3 exceeds dimension 1'):
        F.narrow(minidl.tensor(on_device(x)), 1, 2, 3)


def test_narrow_start_tensor_and_errors():
    """As PyTorch: start may be a 0-dim integer tensor; a 0-dim input, another start
    tensor or a negative length is refused by name."""
    torch = require_torch()
    x = _draw((3, 5))
    _both(lambda t: F.narrow(t, 1, minidl.tensor(2), 3), lambda t: t.narrow(1, torch.tensor(2), 3),
          [x])
    t = minidl.tensor(on_device(x))
    with pytest.raises(ValueError, match='narrow: cannot be applied to a 0-dim tensor'):
        F.narrow(minidl.tensor(1.0), 0, 0, 1)
    for start in (minidl.tensor([1, 2]), minidl.tensor(True), minidl.tensor(1.0)):
        with pytest.raises(TypeError, match='narrow: start must be an int or a 0-dim integer tensor'):
            F.narrow(t, 1, start, 1)
    with pytest.raises(ValueError, match='narrow: length must be non-negative, got -1'):
        F.narrow(t, 0, 0, -1)


def test_getitem_float_index_rejected():
    x = minidl.tensor(on_device(np.zeros(3)))
    with pytest.raises(IndexError, match='getitem: tensors used as indices must be integer'):
        x[minidl.tensor(on_device(np.array([0.0])))]


@FAST
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
       sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3), seed=st.integers(0, 2**16),
       data=st.data())
def test_cat(shape, sizes, seed, data):
    torch = require_torch()
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    d = dim % len(shape)
    arrays = [_draw(shape[:d] + (s,) + shape[d + 1:], seed + k) for k, s in enumerate(sizes)]
    _both(lambda *t: F.cat(t, dim), lambda *t: torch.cat(t, dim), arrays)


@FAST
@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple),
       count=st.integers(1, 3), seed=st.integers(0, 2**16), data=st.data())
def test_stack(shape, count, seed, data):
    torch = require_torch()
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = [_draw(shape, seed + k) for k in range(count)]
    _both(lambda *t: F.stack(t, dim), lambda *t: torch.stack(t, dim), arrays)


def test_cat_stack_only_some_inputs_need_grad():
    torch = require_torch()
    a, b = _draw((2, 3)), _draw((1, 3), 1)
    _both(lambda x, y: F.cat([x, y]), lambda x, y: torch.cat([x, y]), [a, b], requires_grad=[False, True])
    _both(lambda x, y: F.stack([x, y[:1] * 1]), lambda x, y: torch.stack([x, y[:1] * 1]),
          [b, b * 2], requires_grad=[True, False])


def test_cat_skips_one_dimensional_empty_tensors():
    """PyTorch's legacy rule: a (0,) tensor joins any cat (and gets an empty gradient)."""
    torch = require_torch()
    empty, a, b = np.zeros(0), _draw((3, 2, 2)), _draw((3, 2, 2), 1)
    _both(lambda *t: F.cat(t), lambda *t: torch.cat(t), [empty, a, empty])
    _both(lambda *t: F.cat(t, dim=1), lambda *t: torch.cat(t, dim=1), [empty, a, b])
    _both(lambda *t: F.cat(t), lambda *t: torch.cat(t), [empty, empty])


def test_cat_and_stack_mismatch_name_the_shapes():
    a = minidl.tensor(on_device(np.zeros((2, 3))))
    b = minidl.tensor(on_device(np.zeros((3, 4))))
    with pytest.raises(ValueError, match=r'cat: sizes of tensors must match except in dimension '
                                         r'1: tensor 0 has shape \(2, 3\), tensor 1 has shape \(3, 4\)'):
        F.cat([a, b], dim=1)
    with pytest.raises(ValueError, match=r'cat: .*tensor 1 has shape \(3,\)'):
        F.cat([a, minidl.tensor(on_device(np.zeros(3)))])
    with pytest.raises(ValueError, match=r'stack: .*tensor 0 has shape \(2, 3\), tensor 1 has shape \(3, 4\)'):
        F.stack([a, b])
    with pytest.raises(ValueError, match='cat: expected a non-empty sequence'):
        F.cat([])


@FAST
@given(n=st.integers(1, 7), size=st.integers(1, 8), chunks=st.integers(1, 8),
       seed=st.integers(0, 2**16), data=st.data())
def test_split_chunk(n, size, chunks, seed, data):
    torch = require_torch()
    x = _draw((2, n, 3), seed)
    sections = data.draw(st.lists(st.integers(0, n), min_size=1, max_size=3)
                         .filter(lambda s: sum(s) <= n).map(lambda s: s + [n - sum(s)]))
    _both(lambda t: F.split(t, size, 1), lambda t: torch.split(t, size, 1), [x])
    _both(lambda t: t.split(sections, dim=-2), lambda t: t.split(sections, dim=-2), [x])
    _both(lambda t: F.chunk(t, chunks, 1), lambda t: torch.chunk(t, chunks, 1), [x])
    _both(lambda t: t.chunk(chunks, -1), lambda t: t.chunk(chunks, -1), [x])


def test_split_uses_only_some_pieces():
    torch = require_torch()
    x = _draw((5, 2))
    _both(lambda t: F.split(t, 2)[1] * 3, lambda t: torch.split(t, 2)[1] * 3, [x])


def test_split_sections_must_add_up():
    with pytest.raises(ValueError, match=r'split: sections \[1, 1\] do not add up to the size 3'):
        F.split(minidl.tensor(on_device(np.zeros((3, 2)))), [1, 1])


@pytest.mark.parametrize('mode', ['constant', 'reflect', 'replicate', 'circular'])
@FAST
@given(spatial=st.lists(st.integers(3, 4), min_size=1, max_size=2).map(tuple),
       seed=st.integers(0, 2**16), data=st.data())
def test_pad(mode, spatial, seed, data):
    torch = require_torch()
    x = _draw((2, 2) + spatial, seed)  # (N, C, *spatial)
    count = 2 * len(spatial)
    if mode == 'constant':  # any number of dims; negative widths crop
        widths = data.draw(st.lists(st.integers(-1, 2), min_size=2, max_size=2 * x.ndim)
                           .filter(lambda p: len(p) % 2 == 0))
    else:  # PyTorch pads exactly the spatial dims in these modes; negative widths crop
        widths = data.draw(st.lists(st.integers(-1, 2), min_size=count, max_size=count))
    widths = tuple(widths)
    if mode == 'constant':
        ours = lambda t: F.pad(t, widths, value=0.5)  # noqa: E731
        theirs = lambda t: torch.nn.functional.pad(t, widths, value=0.5)  # noqa: E731
    else:
        ours = lambda t: F.pad(t, widths, mode=mode)  # noqa: E731
        theirs = lambda t: torch.nn.functional.pad(t, widths, mode=mode)  # noqa: E731
    _both(ours, theirs, [x])


@pytest.mark.parametrize('mode', ['reflect', 'replicate', 'circular'])
def test_pad_negative_widths_crop_in_every_mode(mode):
    """Circular padding crops first and wraps around what is left, as PyTorch does;
    reflect and replicate index the original input."""
    torch = require_torch()
    x = _draw((1, 2, 4, 5))
    for widths in ((-1, 1, -2, 1), (2, -1, 0, -1), (-2, 1, 1, -3)):
        _both(lambda t: F.pad(t, widths, mode=mode),
              lambda t: torch.nn.functional.pad(t, widths, mode=mode), [x])


def test_pad_errors():
    x = minidl.tensor(on_device(np.zeros((2, 3))))
    with pytest.raises(ValueError, match='pad: the pad tuple'):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match='pad: reflect padding .* too large'):
        F.pad(x, (3, 0), mode='reflect')
    with pytest.raises(ValueError, match='pad: mode must be'):
        F.pad(x, (1, 1), mode='wrap')


def test_clone_is_a_copy_in_the_graph():
    torch = require_torch()
    x = _draw((2, 3)).T
    _both(lambda t: t.clone() * 2, lambda t: t.clone() * 2, [x])
    t = minidl.tensor(on_device(np.zeros(3)))
    c = F.clone(t)
    c.array[0] = 1.0
    assert t.numpy()[0] == 0


def test_reshape_errors_name_the_shapes():
    x = minidl.tensor(on_device(np.zeros((2, 7))))
    with pytest.raises(ValueError, match=r'reshape: shape \(3, 5\) is invalid for input of shape \(2, 7\)'):
        x.reshape(3, 5)
    with pytest.raises(ValueError, match=r'view: shape \(3, -1\) is invalid'):
        x.view(3, -1)
    with pytest.raises(ValueError, match=r'view: shape \(4, 2\) is invalid for input of shape'):
        x.view_as(minidl.tensor(on_device(np.zeros((4, 2)))))
    with pytest.raises(ValueError, match='at most one dimension may be -1'):
        x.reshape(-1, -1)
    with pytest.raises(ValueError, match='permute: dims'):
        x.permute(0, 0)
    with pytest.raises(IndexError, match='transpose: dimension 2 is out of range'):
        x.transpose(0, 2)


def test_zero_dimensional_input():
    torch = require_torch()
    x = np.array(1.5)
    for ours, theirs in [(lambda t: t.reshape(1, 1), lambda t: t.reshape(1, 1)),
                         (lambda t: t.flatten(), lambda t: t.flatten()),
                         (lambda t: t.unsqueeze(0), lambda t: t.unsqueeze(0)),
                         (lambda t: t.expand(2, 3), lambda t: t.expand(2, 3)),
                         (lambda t: t[None], lambda t: t[None]),
                         (lambda t: t.clone(), lambda t: t.clone()),
                         (lambda t: F.stack([t, t]), lambda t: torch.stack([t, t]))]:
        check_torch_parity(ours, theirs, [x])


@pytest.mark.parametrize('indexing', ['ij', 'xy'])
def test_meshgrid(indexing):
    torch = require_torch()
    a, b, c = np.arange(3.0), np.arange(4.0) - 1, np.array([0.5, 2.0])
    ours = lambda x, y, z: F.meshgrid(x, y, z, indexing=indexing)  # noqa: E731
    theirs = lambda x, y, z: torch.meshgrid(x, y, z, indexing=indexing)  # noqa: E731
    check_gradients(ours, [a, b, c])
    check_torch_parity(ours, theirs, [a, b, c])
    check_torch_parity(lambda x, y: minidl.meshgrid([x, y], indexing=indexing),
                       lambda x, y: torch.meshgrid([x, y], indexing=indexing), [a, b])


def test_meshgrid_warns_without_indexing_like_pytorch():
    with pytest.warns(UserWarning, match='indexing argument'):
        grid_x, grid_y = F.meshgrid(minidl.arange(2), minidl.arange(3))
    assert grid_x.shape == grid_y.shape == (2, 3)


# ---------------------------------------------------------------- repeat, flip

@FAST
@given(shape=shapes, data=st.data())
def test_repeat(shape, data):
    torch = require_torch()
    lead = data.draw(st.integers(0, 2))
    repeats = tuple(data.draw(st.lists(st.integers(1, 3), min_size=len(shape) + lead,
                                       max_size=len(shape) + lead)))
    x = np.random.default_rng(0).standard_normal(shape)
    check_gradients(lambda t: t.repeat(*repeats), [x])
    check_torch_parity(lambda t: t.repeat(repeats), lambda t: t.repeat(repeats), [x])


def test_repeat_zero_times_and_errors():
    torch = require_torch()
    x = np.arange(6.0).reshape(2, 3)
    check_torch_parity(lambda t: t.repeat(0, 2), lambda t: t.repeat(0, 2), [x])
    with pytest.raises(RuntimeError, match='repeat: the number of repeat sizes'):
        minidl.tensor(x).repeat(2)


@FAST
@given(shape=shapes, data=st.data())
def test_flip(shape, data):
    torch = require_torch()
    dims = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), max_size=len(shape),
                              unique_by=lambda d: d % len(shape)))
    x = np.random.default_rng(1).standard_normal(shape)
    check_gradients(lambda t: F.flip(t, dims), [x])
    check_torch_parity(lambda t: t.flip(dims), lambda t: t.flip(dims), [x])


def test_flip_copies_and_fliplr_flipud():
    torch = require_torch()
    x = minidl.tensor(np.arange(6.0).reshape(2, 3))
    y = x.flip(0, 1)
    y[0, 0] = 100.0                                  # a copy, not a view, as in PyTorch
    assert x[1, 2].item() == 5.0
    check_torch_parity(lambda t: t.fliplr(), lambda t: t.fliplr(), [np.ones((2, 3))])
    check_torch_parity(minidl.flipud, torch.flipud, [np.arange(4.0)])
    with pytest.raises(RuntimeError, match='flip: dims'):
        x.flip(0, -2)
    with pytest.raises(RuntimeError, match='fliplr: input must be >= 2-d'):
        minidl.fliplr(minidl.zeros(3))
