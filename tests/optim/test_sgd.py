"""SGD: PyTorch's parameter trajectory, parameter groups, state_dict, and a real training run."""
import importlib

import numpy as np
import pytest

import minidl
import minidl.functional as F
import minidl.nn as nn
from minidl import backend
from minidl.optim import SGD
from tests import parity
from tests.functional.kernels import TOL, cp  # noqa: F401 (cp: a fixture)
from tests.optim.common import config_id, follow_torch, groups, make_twins, mlp
from tests.parity import require_torch

sgd_module = importlib.import_module('minidl.optim.sgd')

CONFIGS = [dict(momentum=0.0), dict(momentum=0.9), dict(momentum=0.9, dampening=0.3),
           dict(momentum=0.8, nesterov=True), dict(momentum=0.9, weight_decay=0.01),
           dict(momentum=0.7, nesterov=True, weight_decay=0.05),
           dict(momentum=0.9, dampening=0.5, maximize=True), dict(weight_decay=0.1, maximize=True)]


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('config', CONFIGS, ids=config_id)
def test_sgd_follows_torch_trajectory(config, dtype):
    follow_torch(SGD, dtype, dict(lr=0.03, weight_decay=0.02), lr=0.05, **config)


def test_state_dict_round_trip_continues_the_same_trajectory():
    ours, _ = make_twins(np.float64)
    twin = mlp(nn).double()
    twin.load_state_dict(ours.state_dict())
    twin.to(parity.DEVICE)
    opt = SGD(groups(ours, lr=0.03, weight_decay=0.01), lr=0.1, momentum=0.9, nesterov=True)
    rng = np.random.default_rng(1)
    data = [(minidl.tensor(parity.on_device(rng.standard_normal((4, 3)))),
             minidl.tensor(parity.on_device(rng.standard_normal((4, 2))))) for _ in range(6)]

    def train(model, optimizer, batches):
        for x, y in batches:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
    train(ours, opt, data[:3])
    state = opt.state_dict()
    assert sorted(state['state']) == [0, 1, 2, 3]
    assert [g['params'] for g in state['param_groups']] == [[0, 1], [2, 3]]
    assert state['param_groups'][1]['lr'] == 0.03 and state['param_groups'][0]['lr'] == 0.1
    twin.load_state_dict(ours.state_dict())
    opt2 = SGD(groups(twin, lr=0.5, weight_decay=0.5), lr=0.5)   # options from the state_dict
    opt2.load_state_dict(state)
    assert opt2.param_groups[1]['lr'] == 0.03 and opt2.param_groups[0]['momentum'] == 0.9
    train(ours, opt, data[3:])
    train(twin, opt2, data[3:])
    for p, q in zip(ours.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_load_a_torch_optimizer_state_dict():
    torch = require_torch()
    ours, theirs = make_twins(np.float32)
    ref = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    theirs(torch.ones(2, 3)).sum().backward()
    ref.step()
    opt = SGD(ours.parameters(), lr=0.5)
    opt.load_state_dict(ref.state_dict())
    assert opt.param_groups[0]['lr'] == 0.1 and opt.param_groups[0]['momentum'] == 0.9
    for p, q in zip(ours.parameters(), theirs.parameters()):
        buf = opt.state[p]['momentum_buffer']
        assert buf.dtype == np.float32
        np.testing.assert_allclose(minidl.tensor(buf).numpy(),
                                   ref.state[q]['momentum_buffer'].numpy())


def test_sgd_argument_checks_and_zero_grad():
    w = nn.Parameter(minidl.ones(2))
    with pytest.raises(ValueError, match='Nesterov momentum requires a momentum and zero dampening'):
        SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match='Nesterov momentum requires'):
        SGD([w], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match='Invalid learning rate: -1'):
        SGD([w], lr=-1)
    with pytest.raises(ValueError, match='Invalid momentum value'):
        SGD([w], momentum=-0.5)
    with pytest.raises(ValueError, match='empty parameter list'):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match='iterable of Tensors or dicts'):
        SGD(w, lr=0.1)
    with pytest.raises(ValueError, match='more than one parameter group'):
        SGD([{'params': [w]}, {'params': [w]}])
    opt = SGD([w])
    assert opt.defaults['lr'] == 1e-3
    (w * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and not w.grad.numpy().any()
    opt.zero_grad()
    assert w.grad is None
    opt.step()                                   # no gradient: nothing moves
    np.testing.assert_array_equal(w.numpy(), [1, 1])


def test_closure_is_evaluated_with_gradients():
    w = nn.Parameter(minidl.tensor([1.0, -2.0]))
    opt = SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    with minidl.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0])


# ---------------------------------------------------------------- a small CNN learns

def bar_images(n, rng, size=12):
    """Four classes of noisy bar images: horizontal, vertical, diagonal, anti-diagonal,
    each at a random offset."""
    labels = rng.integers(0, 4, n)
    images = rng.standard_normal((n, 1, size, size)).astype(np.float32) * 0.3
    idx = np.arange(size)
    offsets = rng.integers(-3, 4, n)
    for cls in range(4):
        for k in np.nonzero(labels == cls)[0]:
            o = offsets[k]
            if cls == 0:
                images[k, 0, size // 2 + o, :] += 1
            elif cls == 1:
                images[k, 0, :, size // 2 + o] += 1
            else:
                diag = np.clip(idx + o, 0, size - 1)
                cols = diag if cls == 2 else size - 1 - diag
                images[k, 0, idx, cols] += 1
    return images, labels


class Residual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + x)


class Inception(nn.Module):
    def __init__(self, cin, each):
        super().__init__()
        self.branch1 = nn.Conv2d(cin, each, 1)
        self.branch3 = nn.Sequential(nn.Conv2d(cin, each, 1), nn.ReLU(),
                                     nn.Conv2d(each, each, 3, padding=1))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, each, 1))

    def forward(self, x):
        return F.relu(F.cat([self.branch1(x), self.branch3(x), self.branch_pool(x)], dim=1))


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        Residual(8),
        Inception(8, 4),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(12, 4))


def test_small_cnn_learns_oriented_bars():
    rng = np.random.default_rng(0)
    x_train, y_train = bar_images(384, rng)
    x_test, y_test = bar_images(200, rng)
    model = small_cnn().to(parity.DEVICE)
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    schedule = minidl.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(8):
        model.train()
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            opt.zero_grad()
            loss = loss_fn(model(minidl.tensor(parity.on_device(x_train[batch]))),
                           minidl.tensor(parity.on_device(y_train[batch])))
            loss.backward()
            opt.step()
        schedule.step()
    model.eval()
    with minidl.no_grad():
        predicted = model(minidl.tensor(parity.on_device(x_test))).argmax(1).numpy()
    accuracy = (predicted == y_test).mean()
    assert accuracy >= 0.9, f'test accuracy {accuracy:.3f} after 8 epochs'
    assert int(model[1].num_batches_tracked.item()) == 8 * 12


# ---------------------------------------------------------------- the CUDA kernel (--device cuda)

SGD_CONFIGS = [dict(), dict(momentum=0.9), dict(momentum=0.9, weight_decay=5e-4),
               dict(momentum=0.8, dampening=0.3, weight_decay=1e-2, maximize=True),
               dict(momentum=0.9, nesterov=True, weight_decay=1e-3), dict(weight_decay=0.1)]


def _sgd_trajectory(parameters, gradients, config):
    """The parameters (host copies) after SGD steps with the given gradient arrays."""
    params = [minidl.tensor(p.copy(), requires_grad=True) for p in parameters]
    opt = minidl.optim.SGD(params, lr=0.05, **config)
    for step_grads in gradients:
        for p, g in zip(params, step_grads):
            p.grad = minidl.tensor(g.copy())
        opt.step()
    return [p.numpy() for p in params], opt


@pytest.mark.parametrize('config', SGD_CONFIGS)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_sgd_kernel_follows_the_generic_trajectory(cp, monkeypatch, config, dtype):
    rng = np.random.default_rng(0)
    parameters = [cp.asarray(rng.standard_normal(s).astype(dtype)) for s in ((3, 4), (5,))]
    gradients = [[cp.asarray(rng.standard_normal(p.shape).astype(dtype)) for p in parameters]
                 for _ in range(4)]
    monkeypatch.setattr(backend, 'use_cuda_kernels', False)
    generic, _ = _sgd_trajectory(parameters, gradients, config)
    monkeypatch.setattr(backend, 'use_cuda_kernels', True)
    ours, opt = _sgd_trajectory(parameters, gradients, config)
    for mine, theirs in zip(ours, generic):
        np.testing.assert_allclose(mine, theirs, **TOL[dtype])
    if config.get('momentum'):
        assert all(state['momentum_buffer'].dtype == dtype for state in opt.state.values())


# the call site, on the CPU (the kernel replaced by a NumPy twin of its maths)

def _numpy_sgd_kernel(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov,
                      maximize, first):
    """sgd_update_cuda's maths in NumPy, in place on param and buf."""
    t = param.dtype.type
    d = -grad if maximize else grad
    if weight_decay != 0:
        d = d + t(weight_decay) * param
    if momentum != 0:
        buf[...] = d if first else buf * t(momentum) + t(1 - dampening) * d
        d = d + t(momentum) * buf if nesterov else buf
    param -= t(lr) * d


@pytest.mark.cpu_only
@pytest.mark.parametrize('config', SGD_CONFIGS)
def test_sgd_calls_its_kernel_like_the_generic_path(monkeypatch, config):
    rng = np.random.default_rng(0)
    parameters = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,))]
    gradients = [[rng.standard_normal(p.shape).astype(np.float32) for p in parameters]
                 for _ in range(4)]
    generic, generic_opt = _sgd_trajectory(parameters, gradients, config)
    monkeypatch.setattr(sgd_module, 'cuda_kernels_enabled', lambda xp: True)
    monkeypatch.setattr(sgd_module, 'sgd_update_cuda', _numpy_sgd_kernel)
    ours, opt = _sgd_trajectory(parameters, gradients, config)
    for mine, theirs in zip(ours, generic):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)
    buffers = [s['momentum_buffer'] for s in opt.state.values()]
    generic_buffers = [s['momentum_buffer'] for s in generic_opt.state.values()]
    assert len(buffers) == len(generic_buffers) == (2 if config.get('momentum') else 0)
    for mine, theirs in zip(buffers, generic_buffers):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)
