"""Losses: gradcheck in float64, PyTorch parity, stability and input checks."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.functional as F
from tests.parity import check_gradients, check_torch_parity, on_device, require_torch

FAST = settings(max_examples=25, deadline=None)
reductions = st.sampled_from(['mean', 'sum', 'none'])


@st.composite
def class_problem(draw):
    """Logits (N, C, *extra) or (C,), integer targets with some ignored entries, and
    optionally per-class weights."""
    classes = draw(st.integers(1, 5))
    if draw(st.integers(0, 4)) == 0:
        batch = ()                                    # one unbatched sample
    else:
        batch = (draw(st.integers(1, 4)),) + tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    logits = rng.standard_normal(batch[:1] + (classes,) + batch[1:]) * 2
    target = rng.integers(0, classes, size=batch)
    ignore = draw(st.sampled_from([-100, 0, 2] if classes > 1 else [-100]))
    if batch and draw(st.booleans()):
        target.reshape(-1)[0] = ignore                # at least one entry ignored
    weight = rng.random(classes) + 0.5 if draw(st.booleans()) else None
    return logits, target, weight, ignore


def _with_weight(fn, weight, **kwargs):
    """fn taking (input, target, weight) tensors; kwargs forwarded."""
    if weight is None:
        return lambda x, t: fn(x, t, **kwargs)
    return lambda x, t, w: fn(x, t, w, **kwargs)


def _counted_some(target, ignore):
    return bool(np.any(target != ignore))


@FAST
@given(problem=class_problem(), reduction=reductions,
       smoothing=st.sampled_from([0.0, 0.0, 0.1, 0.3]))
def test_cross_entropy(problem, reduction, smoothing):
    torch = require_torch()
    logits, target, weight, ignore = problem
    if reduction == 'mean' and not _counted_some(target, ignore):
        target = np.where(target == ignore, (ignore + 1) % logits.shape[1 if logits.ndim > 1 else 0], target)
    kwargs = dict(ignore_index=ignore, reduction=reduction, label_smoothing=smoothing)
    ours = _with_weight(F.cross_entropy, weight, **kwargs)
    theirs = _with_weight(torch.nn.functional.cross_entropy, weight, **kwargs)
    arrays = [logits, target] + ([weight] if weight is not None else [])
    mask = [True, False, False][:len(arrays)]
    check_gradients(ours, arrays, requires_grad=mask)
    check_torch_parity(ours, theirs, arrays, requires_grad=mask)


@FAST
@given(problem=class_problem(), reduction=reductions)
def test_nll_loss(problem, reduction):
    torch = require_torch()
    logits, target, weight, ignore = problem
    if reduction == 'mean' and not _counted_some(target, ignore):
        target = np.where(target == ignore, (ignore + 1) % logits.shape[1 if logits.ndim > 1 else 0], target)
    kwargs = dict(ignore_index=ignore, reduction=reduction)
    ours = _with_weight(F.nll_loss, weight, **kwargs)
    theirs = _with_weight(torch.nn.functional.nll_loss, weight, **kwargs)
    arrays = [logits, target] + ([weight] if weight is not None else [])
    mask = [True, False, False][:len(arrays)]
    check_gradients(ours, arrays, requires_grad=mask)
    check_torch_parity(ours, theirs, arrays, requires_grad=mask)


@pytest.mark.parametrize('shape', [(4, 3), (2, 3, 2, 2), (5,), (0, 3)])
@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_cross_entropy_with_class_probabilities(shape, reduction):
    """A floating-point target of the input's shape holds class probabilities, with
    label smoothing and class weights; input, target and weight get gradients."""
    torch = require_torch()
    rng = np.random.default_rng(len(shape))
    logits = rng.standard_normal(shape) * 2
    probs = rng.random(shape)
    weight = rng.random(shape[1 if len(shape) > 1 else 0]) + 0.5
    for smoothing in (0.0, 0.25):
        kwargs = dict(reduction=reduction, label_smoothing=smoothing)
        ours = lambda x, t, w: F.cross_entropy(x, t, w, **kwargs)  # noqa: E731
        theirs = lambda x, t, w: torch.nn.functional.cross_entropy(x, t, w, **kwargs)  # noqa: E731
        check_torch_parity(ours, theirs, [logits, probs, weight])
        check_torch_parity(lambda x, t: F.cross_entropy(x, t, **kwargs),
                           lambda x, t: torch.nn.functional.cross_entropy(x, t, **kwargs),
                           [logits, probs], requires_grad=[True, False])
        if logits.size:
            check_gradients(ours, [logits, probs, weight])


def test_class_probability_target_errors():
    logits = _t(np.zeros((2, 3)))
    with pytest.raises(ValueError, match='cross_entropy: ignore_index is not supported for '
                                         'class-probability'):
        F.cross_entropy(logits, _t(np.full((2, 3), 1 / 3)), ignore_index=1)
    with pytest.raises(TypeError, match=r"cross_entropy: class-probability targets \(the "
                                        r"input's shape \(2, 3\)\) need floating-point"):
        F.cross_entropy(logits, _t(np.zeros((2, 3), np.int64)))
    with pytest.raises(ValueError, match=r'cross_entropy: weight must have shape \(3,\)'):
        F.cross_entropy(logits, _t(np.full((2, 3), 1 / 3)), weight=_t(np.ones(2)))
    with pytest.raises(ValueError, match='cross_entropy: label_smoothing must be between'):
        F.cross_entropy(logits, _t(np.full((2, 3), 1 / 3)), label_smoothing=1.5)


def test_cross_entropy_equals_log_softmax_then_nll():
    torch = require_torch()
    logits = np.random.default_rng(0).standard_normal((6, 4, 2)).transpose(0, 2, 1)  # non-contiguous
    target = np.random.default_rng(1).integers(0, 2, size=(6, 4))
    check_torch_parity(lambda x, t: F.nll_loss(F.log_softmax(x, 1), t),
                       lambda x, t: torch.nn.functional.cross_entropy(x, t), [logits, target])


def test_cross_entropy_mean_gradient_is_softmax_minus_onehot_over_n():
    logits = np.random.default_rng(0).standard_normal((5, 3))
    target = np.array([0, 2, 1, 1, 0])
    x = minidl.tensor(on_device(logits), requires_grad=True)
    F.cross_entropy(x, minidl.tensor(on_device(target))).backward()
    softmax = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), (softmax - np.eye(3)[target]) / 5, rtol=1e-12)


def test_cross_entropy_large_logits_stay_finite():
    torch = require_torch()
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4 - 1, 1e4], [3.0, 3.0, -1e4]])
    target = np.array([1, 2, 0])
    for reduction in ('mean', 'none'):
        check_torch_parity(lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1),
                           lambda x, t: torch.nn.functional.cross_entropy(
                               x, t, reduction=reduction, label_smoothing=0.1), [logits, target])
    for dtype in (np.float32, np.float64):
        x = minidl.tensor(on_device(logits.astype(dtype)), requires_grad=True)
        loss = F.cross_entropy(x, minidl.tensor(on_device(target)))
        loss.backward()
        assert loss.dtype == dtype and x.grad.dtype == dtype
        assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad.numpy()))


def test_all_targets_ignored_gives_nan_like_pytorch():
    torch = require_torch()
    logits, target = np.zeros((2, 3)), np.array([-100, -100])
    ours = F.cross_entropy(minidl.tensor(on_device(logits)), minidl.tensor(on_device(target)))
    theirs = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(target))
    assert np.isnan(ours.item()) and np.isnan(theirs.item())


@pytest.mark.parametrize('name', ['cross_entropy', 'nll_loss'])
def test_ignored_targets_get_an_exact_zero_gradient(name):
    """With every target ignored, 'mean' is 0/0 = NaN but the gradient is 0 (PyTorch);
    an ignored entry stops even an inf upstream gradient ('none')."""
    torch = require_torch()
    ours, theirs = getattr(F, name), getattr(torch.nn.functional, name)
    logits = np.random.default_rng(0).standard_normal((2, 3))
    x = minidl.tensor(on_device(logits), requires_grad=True)
    ours(x, _t([-100, -100])).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))
    for smoothing in ((0.0, 0.2) if name == 'cross_entropy' else (0.0,)):
        extra = dict(label_smoothing=smoothing) if smoothing else {}
        check_torch_parity(lambda a, t: ours(a, t, **extra), lambda a, t: theirs(a, t, **extra),
                           [logits, np.array([-100, -100])])
        check_torch_parity(lambda a, t: ours(a, t, reduction='none', **extra),
                           lambda a, t: theirs(a, t, reduction='none', **extra),
                           [logits, np.array([-100, 1])], upstream=[np.array([np.inf, 1.0])])


@FAST
@given(shapes=st.sampled_from([((3, 4), (3, 4)), ((2, 3, 1), (4,)), ((5,), (1,)), ((2, 2), (2, 2))]),
       reduction=reductions, seed=st.integers(0, 2**16))
def test_mse_loss(shapes, reduction, seed):
    torch = require_torch()
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    ours = lambda a, b: F.mse_loss(a, b, reduction=reduction)  # noqa: E731
    theirs = lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction)  # noqa: E731
    check_gradients(ours, [x, y])
    import warnings
    with warnings.catch_warnings():  # PyTorch warns when the shapes broadcast
        warnings.simplefilter('ignore', UserWarning)
        check_torch_parity(ours, theirs, [x, y])
        check_torch_parity(ours, theirs, [x, y], requires_grad=[True, False])


def _t(array):
    return minidl.tensor(on_device(np.asarray(array)))


def test_target_out_of_range():
    logits = _t(np.zeros((2, 10)))
    with pytest.raises(IndexError, match='cross_entropy: target 12 is out of range for 10 classes'):
        F.cross_entropy(logits, _t([3, 12]))
    with pytest.raises(IndexError, match='nll_loss: target -1 is out of range for 10 classes'):
        F.nll_loss(logits, _t([-1, 0]))
    F.cross_entropy(logits, _t([-1, 0]), ignore_index=-1)  # an ignored index may lie outside


def test_shape_and_dtype_errors():
    logits = _t(np.zeros((4, 10)))
    with pytest.raises(ValueError, match=r'cross_entropy: input of shape \(4, 10\) needs a target '
                                         r'of shape \(4,\), got \(4, 3\)'):
        F.cross_entropy(logits, _t(np.zeros((4, 3), np.int64)))
    with pytest.raises(TypeError, match='cross_entropy: target must hold class indices .* got '
                                        'float32 of shape \\(4,\\); class probabilities need a '
                                        'target of the input'):
        F.cross_entropy(logits, _t(np.zeros(4, np.float32)))
    with pytest.raises(ValueError, match=r'cross_entropy: weight must have shape \(10,\)'):
        F.cross_entropy(logits, _t(np.zeros(4, np.int64)), weight=_t(np.ones(3)))
    with pytest.raises(ValueError, match="nll_loss: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.nll_loss(logits, _t(np.zeros(4, np.int64)), reduction='avg')
    with pytest.raises(ValueError, match=r'mse_loss: input of shape \(4, 10\) and target of shape \(3,\)'):
        F.mse_loss(logits, _t(np.zeros(3)))


# ---------------------------------------------------------------- binary cross-entropy

@st.composite
def binary_problem(draw):
    """Probabilities or logits of any shape, targets in [0, 1] of that shape, and
    optionally a weight and a pos_weight that broadcast to it."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    logits = rng.standard_normal(shape) * 3
    target = rng.random(shape) if draw(st.booleans()) else rng.integers(0, 2, shape) * 1.0
    weight = rng.random(shape[-1:]) + 0.5 if shape and draw(st.booleans()) else None
    pos_weight = rng.random(shape[-1:]) + 0.5 if shape and draw(st.booleans()) else None
    return logits, target, weight, pos_weight


def _bce_call(fn, weight, pos_weight, **kwargs):
    """fn on (input, target) tensors, with the settings as constant tensors."""
    extra = {}
    if weight is not None:
        extra['weight'] = minidl.tensor(on_device(weight))
    if pos_weight is not None:
        extra['pos_weight'] = minidl.tensor(on_device(pos_weight))

    def call(x, t):
        kw = {k: v.to(x.dtype) for k, v in extra.items()}
        return fn(x, t, **kw, **kwargs)
    return call


def _torch_bce_call(fn, weight, pos_weight, **kwargs):
    torch = require_torch()

    def call(x, t):
        kw = {}
        if weight is not None:
            kw['weight'] = torch.tensor(weight, dtype=x.dtype)
        if pos_weight is not None:
            kw['pos_weight'] = torch.tensor(pos_weight, dtype=x.dtype)
        return fn(x, t, **kw, **kwargs)
    return call


@settings(max_examples=15, deadline=None)
@given(problem=binary_problem(), reduction=reductions)
def test_binary_cross_entropy_with_logits(problem, reduction):
    torch = require_torch()
    logits, target, weight, pos_weight = problem
    ours = _bce_call(F.binary_cross_entropy_with_logits, weight, pos_weight, reduction=reduction)
    theirs = _torch_bce_call(torch.nn.functional.binary_cross_entropy_with_logits, weight,
                             pos_weight, reduction=reduction)
    check_gradients(ours, [logits, target])
    check_torch_parity(ours, theirs, [logits, target])


@settings(max_examples=15, deadline=None)
@given(problem=binary_problem(), reduction=reductions)
def test_binary_cross_entropy(problem, reduction):
    torch = require_torch()
    logits, target, weight, _ = problem
    probs = 0.05 + 0.9 / (1 + np.exp(-logits))     # inside (0, 1), away from log's poles
    ours = _bce_call(F.binary_cross_entropy, weight, None, reduction=reduction)
    theirs = _torch_bce_call(torch.nn.functional.binary_cross_entropy, weight, None,
                             reduction=reduction)
    # central differences step the target by 1e-6 both ways: keep it inside [0, 1]
    check_gradients(ours, [probs, 0.01 + 0.98 * target])
    check_torch_parity(ours, theirs, [probs, target])


def test_binary_cross_entropy_with_logits_is_stable_at_large_logits():
    torch = require_torch()
    logits = np.array([-1e4, -80.0, -30.0, 0.0, 30.0, 80.0, 1e4])
    target = np.array([1.0, 1.0, 0.0, 0.5, 1.0, 0.0, 0.0])
    theirs = torch.nn.functional.binary_cross_entropy_with_logits
    check_torch_parity(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction='none'),
                       lambda x, t: theirs(x, t, reduction='none'), [logits, target])
    x = minidl.tensor(on_device(logits.astype(np.float32)), requires_grad=True)
    y = minidl.tensor(on_device(target.astype(np.float32)))
    loss = F.binary_cross_entropy_with_logits(x, y)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad.numpy()))


def test_binary_cross_entropy_floors_the_log_at_minus_100_like_torch():
    torch = require_torch()
    probs, target = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    theirs = torch.nn.functional.binary_cross_entropy
    check_torch_parity(lambda x, t: F.binary_cross_entropy(x, t, reduction='none'),
                       lambda x, t: theirs(x, t, reduction='none'),
                       [probs, target], requires_grad=[False, False])


def test_binary_cross_entropy_errors():
    x, t = minidl.tensor([0.2, 0.7]), minidl.tensor([0.0, 1.0])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target of shape \(1,\) must "
                                         r"have the input's shape \(2,\)"):
        F.binary_cross_entropy(x, t[:1])
    with pytest.raises(ValueError, match='binary_cross_entropy_with_logits: target of shape'):
        F.binary_cross_entropy_with_logits(x, t[:1])
    with pytest.raises(RuntimeError, match='all elements of input should be between 0 and 1'):
        F.binary_cross_entropy(x * 3, t)
    with pytest.raises(RuntimeError, match='all elements of target should be between 0 and 1'):
        F.binary_cross_entropy(x, t - 1)
    with pytest.raises(RuntimeError, match='target has dtype int64'):
        F.binary_cross_entropy_with_logits(x, minidl.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r'weight of shape \(3,\) does not broadcast'):
        F.binary_cross_entropy(x, t, weight=minidl.ones(3))
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument "
                                           "'pos_weight'"):
        F.binary_cross_entropy_with_logits(x, t, pos_weight=minidl.ones(2, requires_grad=True))
    with pytest.warns(UserWarning, match='size_average and reduce'):
        total = F.binary_cross_entropy(x, t, size_average=False)
    np.testing.assert_allclose(total.item(), F.binary_cross_entropy(x, t, reduction='sum').item())
