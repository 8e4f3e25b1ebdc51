"""In-place operations: the same tensor and storage, PyTorch's values, gradients, versions
and errors, views and setitem (CopySlices), and ``.data``."""
import numpy as np
import pytest

import minidl
import minidl.functional as F
from tests.parity import on_device, require_torch

RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((3, 4))
Z = RNG.uniform(0.5, 2.0, (3, 4))
ROW = RNG.standard_normal(4)
COT = RNG.standard_normal((3, 4))
INDEX = np.array([[0, 2, 1, 3], [3, 0, 2, 1], [1, 1, 0, 2]])   # along dim 1
MASK = RNG.random((3, 4)) > 0.5

def _then(first, second):
    return second


# name: (the change, as PyTorch code on h and the other tensors; h positive?, others)
CASES = {
    'add_': (lambda h, y: h.add_(y, alpha=2), False, [Y]),
    'add_ broadcast': (lambda h, r: h.add_(r), False, [ROW]),
    'iadd': (lambda h, y: h.__iadd__(y), False, [Y]),
    'sub_': (lambda h, y: h.sub_(y), False, [Y]),
    'isub': (lambda h, y: h.__isub__(y * 3), False, [Y]),
    'mul_': (lambda h, y: h.mul_(y), False, [Y]),
    'imul scalar': (lambda h: h.__imul__(2.5), False, []),
    'div_': (lambda h, z: h.div_(z), False, [Z]),
    'itruediv': (lambda h, z: h.__itruediv__(z), False, [Z]),
    'pow_': (lambda h: h.pow_(3), False, []),
    'pow_ tensor': (lambda h, y: h.pow_(y), True, [Y]),
    'clamp_': (lambda h: h.clamp_(-0.5, 0.6), False, []),
    'clamp_min_': (lambda h: h.clamp_min_(0.1), False, []),
    'clamp_max_': (lambda h: h.clamp_max_(0.2), False, []),
    'addcmul_': (lambda h, y, z: h.addcmul_(y, z, value=0.5), False, [Y, Z]),
    'addcdiv_': (lambda h, y, z: h.addcdiv_(y, z, value=2), False, [Y, Z]),
    'lerp_': (lambda h, y: h.lerp_(y, 0.3), False, [Y]),
    'lerp_ tensor weight': (lambda h, y, z: h.lerp_(y, z), False, [Y, Z]),
    'masked_fill_': (lambda h, m: h.masked_fill_(m, 0.5), False, [MASK]),
    'scatter_': (lambda h, i, y: h.scatter_(1, i, y[:, :2]), False, [INDEX[:, :2], Y]),
    'scatter_add_': (lambda h, i, y: h.scatter_add_(1, i, y), False, [INDEX, Y]),
    'index_add_': (lambda h, i, y: h.index_add_(0, i, y[:2]), False, [np.array([2, 0]), Y]),
    'index_fill_': (lambda h, i: h.index_fill_(1, i, -1.0), False, [np.array([0, 3])]),
    'zero_': (lambda h: h.zero_(), False, []),
    'fill_': (lambda h: h.fill_(2.0), False, []),
    'copy_': (lambda h, y: h.copy_(y), False, [Y]),
    'copy_ broadcast': (lambda h, r: h.copy_(r), False, [ROW]),
    'relu_': (lambda h: h.relu_(), False, []),
    'sigmoid_': (lambda h: h.sigmoid_(), False, []),
    'tanh_': (lambda h: h.tanh_(), False, []),
    'neg_': (lambda h: h.neg_(), False, []),
    'abs_': (lambda h: h.abs_(), False, []),
    'exp_': (lambda h: h.exp_(), False, []),
    'log_': (lambda h: h.log_(), True, []),
    'sqrt_': (lambda h: h.sqrt_(), True, []),
    'sin_': (lambda h: h.sin_(), False, []),
    'rsqrt_': (lambda h: h.rsqrt_(), True, []),
    'reciprocal_': (lambda h: h.reciprocal_(), True, []),
    'erf_': (lambda h: h.erf_(), False, []),
    'floor_': (lambda h: h.floor_(), False, []),
    'chain': (lambda h, y: h.mul_(2).add_(y).sin_().tanh_(), False, [Y]),
    # changes of views write through into h and rebase h's history (CopySlices)
    'view mul_': (lambda h, y: _then(h[1:].mul_(y[1:]), h), False, [Y]),
    'column add_': (lambda h, y: _then(h[:, 0].add_(y[:, 1]), h), False, [Y]),
    'view of view': (lambda h: _then(h.t()[1:, 0].sigmoid_(), h), False, []),
    'reshaped view': (lambda h, y: _then(h.view(12)[2:7].mul_(y.view(12)[:5]), h), False, [Y]),
    'view relu_ then use': (lambda h: h[0].relu_() * 0 + h, False, []),
    'x[0] += y': (lambda h, y: h.__setitem__(0, h[0] + y[1]) or h, False, [Y]),
    'setitem tensor': (lambda h, y: h.__setitem__((slice(None), 1), y[:, 2] * 3) or h, False, [Y]),
    'setitem number': (lambda h: h.__setitem__((slice(0, 2), slice(1, 3)), 0.5) or h, False, []),
    'setitem mask': (lambda h, m: h.__setitem__(m, 0.0) or h, False, [MASK]),
    'setitem index list': (lambda h, y: h.__setitem__([0, 2], y[:2]) or h, False, [Y]),
}


def _run(lib, case, positive, others):
    """Apply the case to a non-leaf h = f(x) in ``lib`` (minidl or torch); return h's
    values, the gradients of x and of the float others, h's version, whether the call
    returned h itself."""
    x = lib.tensor(on_device(X) if lib is minidl else X, requires_grad=True)
    tensors = []
    for a in others:
        a = np.asarray(a)
        t = lib.tensor(on_device(a) if lib is minidl else a)
        if a.dtype.kind == 'f':
            t.requires_grad_(True)
        tensors.append(t)
    h = x * x + 0.5 if positive else x * 1.5 + 0.1
    out = case(h, *tensors)
    same = out is h
    version = h._version
    (out * lib.tensor(on_device(COT) if lib is minidl else COT)).sum().backward()
    grads = [t.grad for t in [x] + tensors if t.requires_grad]
    return (h.detach().cpu().numpy() if lib is not minidl else h.numpy(),
            [g.cpu().numpy() if lib is not minidl else g.numpy() for g in grads], version, same)


@pytest.mark.parametrize('name', sorted(CASES))
def test_inplace_matches_pytorch(name):
    torch = require_torch()
    case, positive, others = CASES[name]
    ours = _run(minidl, case, positive, others)
    theirs = _run(torch, case, positive, others)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, atol=1e-12, err_msg='values')
    assert len(ours[1]) == len(theirs[1])
    for k, (g, r) in enumerate(zip(ours[1], theirs[1])):
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12, err_msg=f'gradient {k}')
    assert ours[2] == theirs[2], f'version {ours[2]}, PyTorch {theirs[2]}'
    assert ours[3] == theirs[3]


def test_inplace_keeps_the_object_and_the_storage():
    x = minidl.tensor(on_device(X))
    array, alias = x.array, x.detach()
    assert x.add_(1) is x and x.array is array
    x += 1
    x *= 2
    x.relu_()
    F.relu(x, inplace=True)
    assert x.array is array
    np.testing.assert_allclose(alias.numpy(), np.maximum((X + 2) * 2, 0))
    assert x._version == alias._version == 5


def test_inplace_with_itself_is_differentiated_right():
    """x.mul_(x) then pow_: PyTorch refuses (it saved self for the other operand); minidl
    keeps a copy of what it overwrites and gets the gradient of (x*x)^3."""
    x = minidl.tensor(on_device(X), requires_grad=True)
    h = x + 0
    h.mul_(h).pow_(3)
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * X ** 5)


def test_classic_update_under_no_grad_keeps_the_leaf():
    w = minidl.tensor(on_device(np.array([3.0, -2.0])), requires_grad=True)
    for _ in range(50):
        loss = (w * w).sum()
        loss.backward()
        with minidl.no_grad():
            w -= 0.1 * w.grad
            w.grad.zero_()
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    np.testing.assert_allclose(w.numpy(), [3.0 * 0.8 ** 50, -2.0 * 0.8 ** 50])


def test_inplace_errors_are_pytorchs():
    torch = require_torch()
    for lib in (minidl, torch):
        w = lib.ones(3, requires_grad=True)
        for change in (lambda: w.add_(1), lambda: w.__iadd__(1), lambda: w.zero_(),
                       lambda: w.__setitem__(0, 2.0), lambda: lib.nn.functional.relu(w, inplace=True)):
            with pytest.raises(RuntimeError, match='a leaf Variable that requires grad'):
                change()
        with pytest.raises(RuntimeError, match='a view of a leaf Variable'):
            w[:2].mul_(2)
        with lib.no_grad():
            view = w[:2]
        with pytest.raises(RuntimeError, match='A view was created in no_grad mode'):
            view.mul_(2)
        with pytest.raises(RuntimeError, match=r"output with shape \[3, 1\] doesn't match the "
                                               r"broadcast shape \[3, 4\]"):
            lib.zeros(3, 1).add_(lib.zeros(3, 4))
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            lib.zeros(3, dtype=lib.int64).add_(lib.ones(3))


def test_expanded_view_cannot_be_changed():
    x = minidl.ones(1, 3).expand(2, 3)
    with pytest.raises(RuntimeError, match='read-only view'):
        x.add_(1)


def test_inplace_on_leaves_is_fine_under_no_grad_and_on_plain_tensors():
    w = minidl.ones(3, requires_grad=True)
    with minidl.no_grad():
        w.mul_(2)[0] = 5.0
        w.normal_(0, 0.01)
    assert w.is_leaf and w._version == 3
    t = minidl.zeros(2, 3)
    t[0] = minidl.ones(3)
    t[:, 1] += 2
    np.testing.assert_array_equal(t.numpy(), [[1, 3, 1], [0, 2, 0]])


def test_data_is_invisible_to_autograd():
    p = minidl.tensor(on_device(X), requires_grad=True)
    p.data.normal_(0, 0.01)                        # the usual init: changes p
    assert 0 < np.abs(p.numpy()).max() < 0.1 and p._version == 0
    y = p.sigmoid()
    y.data.mul_(0)                                 # invisible: no error, as in PyTorch
    y.sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), 0)
    p.data = minidl.tensor(on_device(Y))           # assigning .data swaps the array
    np.testing.assert_array_equal(p.numpy(), Y)


def test_moving_statistics_through_data():
    """The from-scratch batch norm of d2l updates its moving mean through .data."""
    moving_mean = minidl.zeros(4)
    x = minidl.tensor(on_device(X), requires_grad=True)
    for _ in range(3):
        mean = x.mean(dim=0)
        moving_mean = 0.9 * moving_mean + 0.1 * mean
        moving_mean = moving_mean.data
    assert moving_mean.grad_fn is None and not moving_mean.requires_grad
    np.testing.assert_allclose(moving_mean.numpy(), (1 - 0.9 ** 3) * X.mean(axis=0))


def test_relu_and_dropout_modules_inplace():
    torch = require_torch()
    x = minidl.tensor(on_device(X), requires_grad=True)
    h = x * 2
    out = minidl.nn.ReLU(inplace=True)(h)
    assert out is h and h.grad_fn.name() == 'ReLUBackward'
    out.sum().backward()
    xt = torch.tensor(X, requires_grad=True)
    torch.nn.ReLU(inplace=True)(xt * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())
    h = minidl.tensor(on_device(X)) * 1
    assert minidl.nn.Dropout(0.5, inplace=True)(h) is h
    assert minidl.nn.LeakyReLU(0.1, inplace=True)(h) is h


def test_shape_changes_in_place():
    torch = require_torch()
    for lib in (minidl, torch):
        x = lib.tensor(X, requires_grad=True)
        h = x * 2
        h.unsqueeze_(0)
        assert tuple(h.shape) == (1, 3, 4) and h._version == 1
        h.squeeze_(0).t_()
        assert tuple(h.shape) == (4, 3)
        (h * lib.tensor(COT.T)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 2 * COT)


def test_random_fills_use_the_generator():
    g = minidl.Generator().manual_seed(5)
    a = minidl.empty(4).uniform_(-1, 1, generator=g)
    g.manual_seed(5)
    b = minidl.empty(4).uniform_(-1, 1, generator=g)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert set(np.unique(minidl.empty(100).bernoulli_(0.5).numpy())) == {0.0, 1.0}
    assert minidl.empty(100).exponential_(2.0).numpy().min() >= 0
    r = minidl.empty(100, dtype=minidl.int64).random_(3, 7).numpy()
    assert r.min() >= 3 and r.max() < 7
