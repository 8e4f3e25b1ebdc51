"""Module: registration, traversal, state_dict, modes, moving, hooks, errors, repr."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from tests.models.common import require_twins
from tests.nn.common import assert_same_state_layout, compare_with_torch
from tests.parity import require_torch


def build_net(nn):
    """A small ResNet-like network, written once for minidl.nn and for torch.nn."""

    class Block(nn.Module):
        def __init__(self, channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(channels[0], channels[1], 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels[1])
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(channels[1], channels[1], 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels[1])
            self.downsample = None
            if stride != 1 or channels[0] != channels[1]:
                self.downsample = nn.Sequential(
                    nn.Conv2d(channels[0], channels[1], 1, stride, bias=False),
                    nn.BatchNorm2d(channels[1]))

        def forward(self, x):
            shortcut = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + shortcut)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(4)
            self.layer1 = nn.Sequential(Block((4, 4)))
            self.layer2 = nn.Sequential(Block((4, 6), stride=2), Block((6, 6)))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(6, 5)

        def forward(self, x):
            x = self.bn1(self.conv1(x))
            x = self.layer2(self.layer1(x))
            return self.fc(self.pool(x).flatten(1))

    return Net()


def twins():
    torch = require_torch()
    return build_net(nn), build_net(torch.nn)


# ---------------------------------------------------------------- registration

class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(minidl.ones(2, 3))
        self.register_buffer('count', minidl.zeros(1))
        self.register_buffer('scratch', minidl.zeros(2), persistent=False)
        self.child = nn.Linear(3, 2)
        self.plain = 5

    def forward(self, x):
        return self.child(x) * 2


def test_registration_in_order_and_lookup():
    m = Toy()
    assert [n for n, _ in m.named_parameters()] == ['w', 'child.weight', 'child.bias']
    assert [n for n, _ in m.named_buffers()] == ['count', 'scratch']
    assert [n for n, _ in m.named_children()] == ['child']
    assert [n for n, _ in m.named_modules()] == ['', 'child']
    assert list(m.state_dict()) == ['w', 'count', 'child.weight', 'child.bias']
    assert m.plain == 5 and m.w is m._parameters['w'] and m.child is m._modules['child']
    assert [n for n, _ in m.named_parameters(recurse=False)] == ['w']
    assert [n for n, _ in m.named_parameters(prefix='net')][0] == 'net.w'
    assert {'w', 'count', 'child', 'forward'} <= set(dir(m))


def test_reassignment_and_deletion():
    m = Toy()
    m.child = nn.Linear(3, 3)                   # replacing keeps the place in the order
    m.extra = nn.ReLU()
    assert list(m._modules) == ['child', 'extra']
    m.w = None
    assert 'w' not in m.state_dict() and m.w is None
    with pytest.raises(TypeError, match="cannot assign 'int' as parameter 'w'"):
        m.w = 3
    with pytest.raises(TypeError, match="cannot assign 'ndarray' as buffer 'count'"):
        m.count = np.zeros(1)
    m.count = minidl.ones(1)
    assert m.state_dict()['count'][0] == 1
    del m.extra
    assert 'extra' not in m._modules
    with pytest.raises(AttributeError, match="'Toy' object has no attribute 'extra'"):
        m.extra
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer('plain', minidl.zeros(1))
    with pytest.raises(KeyError, match='contain'):
        m.register_parameter('a.b', None)
    with pytest.raises(TypeError, match='minidl Tensor or None required'):
        m.register_buffer('arr', np.zeros(2))


def test_assignment_before_init_is_an_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(minidl.ones(1))
    with pytest.raises(AttributeError, match='before Module.__init__'):
        Bad()


def test_shared_parameters_are_listed_once():
    a = nn.Linear(2, 2)
    m = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(m.parameters())) == 2
    assert [n for n, _ in m.named_modules()] == ['', '0', '1']
    assert list(m.state_dict()) == ['0.weight', '0.bias', '2.weight', '2.bias']
    torch = require_torch()
    t = torch.nn.Linear(2, 2)
    ref = torch.nn.Sequential(t, torch.nn.ReLU(), t)
    assert list(ref.state_dict()) == list(m.state_dict())


def test_traversal_matches_torch():
    ours, theirs = twins()
    for method in ('named_parameters', 'named_buffers', 'named_modules', 'named_children'):
        mine = [n for n, _ in getattr(ours, method)()]
        ref = [n for n, _ in getattr(theirs, method)()]
        assert mine == ref, method
    assert_same_state_layout(ours, theirs)
    assert ours.state_dict()['bn1.num_batches_tracked'].dtype == np.int64
    assert ours.state_dict()['bn1.num_batches_tracked'].shape == ()


@pytest.mark.cpu_only  # a host-side string; reprs change between PyTorch releases
def test_repr_equals_torch():
    ours, theirs = twins()
    assert repr(ours) == repr(theirs)
    torch = require_torch()
    extra = (nn.Sequential(nn.Dropout(0.2), nn.MaxPool2d(3, 2, 1), nn.Flatten(),
                           nn.LeakyReLU(0.2), nn.Softmax(dim=1), nn.AvgPool2d(2),
                           nn.LocalResponseNorm(5, alpha=5e-4, k=2.0), nn.Identity(),
                           nn.BatchNorm1d(3, momentum=None, affine=False)),
             torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.MaxPool2d(3, 2, 1),
                                 torch.nn.Flatten(), torch.nn.LeakyReLU(0.2),
                                 torch.nn.Softmax(dim=1), torch.nn.AvgPool2d(2),
                                 torch.nn.LocalResponseNorm(5, alpha=5e-4, k=2.0),
                                 torch.nn.Identity(),
                                 torch.nn.BatchNorm1d(3, momentum=None, affine=False)))
    assert repr(extra[0]) == repr(extra[1])


# ---------------------------------------------------------------- state_dict

@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('load', ['torch_to_ours', 'ours_to_torch'])
def test_state_dict_round_trip_with_torch_gives_same_outputs_and_gradients(dtype, load):
    ours, theirs = twins()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    # training mode: batch statistics, and the running ones move
    ours, theirs = compare_with_torch(ours, theirs, [x], dtype=dtype, load=load)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(minidl.tensor(ours.state_dict()[key]).numpy(),
                                   value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    # eval mode: running statistics
    compare_with_torch(ours, theirs, [x], dtype=dtype, train=False, load=load)


def test_state_dict_shares_arrays_and_load_copies_in_place():
    m = nn.Linear(3, 2)
    state = m.state_dict()
    assert isinstance(state, OrderedDict) and state['weight'] is m.weight.array
    weight = m.weight
    array = m.weight.array
    m.load_state_dict({'weight': minidl.ones(2, 3), 'bias': np.zeros(2, dtype=np.float64)})
    assert m.weight is weight and m.weight.array is array      # same objects, new values
    assert m.weight.dtype == np.float32 and m.bias.dtype == np.float32
    np.testing.assert_array_equal(m.weight.numpy(), np.ones((2, 3)))


def test_load_state_dict_accepts_torch_tensors_and_objects_with_numpy():
    torch = require_torch()

    class HasNumpy:
        def numpy(self):
            return np.full(2, 7.0)
    m = nn.Linear(3, 2)
    m.load_state_dict({'weight': torch.ones(2, 3, requires_grad=True), 'bias': HasNumpy()})
    np.testing.assert_array_equal(m.bias.numpy(), [7, 7])
    np.testing.assert_array_equal(m.weight.numpy(), np.ones((2, 3)))


def test_load_state_dict_errors_name_the_keys_and_shapes():
    ours, _ = twins()
    state = dict(ours.state_dict())
    del state['layer2.0.conv1.weight']
    state['layer2.0.conv3.weight'] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        ours.load_state_dict(state)
    message = str(info.value)
    assert 'Error(s) in loading state_dict for Net' in message
    assert 'Missing key(s) in state_dict: "layer2.0.conv1.weight"' in message
    assert 'Unexpected key(s) in state_dict: "layer2.0.conv3.weight"' in message

    result = ours.load_state_dict(state, strict=False)
    assert result.missing_keys == ['layer2.0.conv1.weight']
    assert result.unexpected_keys == ['layer2.0.conv3.weight']
    assert repr(ours.load_state_dict(ours.state_dict())) == '<All keys matched successfully>'

    state = dict(ours.state_dict())
    state['fc.weight'] = np.zeros((5, 7), dtype=np.float32)
    with pytest.raises(RuntimeError, match=r'size mismatch for fc\.weight: copying a param with '
                                           r'shape \(5, 7\) from checkpoint, the shape in current '
                                           r'model is \(5, 6\)'):
        ours.load_state_dict(state, strict=False)


def test_old_checkpoint_without_num_batches_tracked_keeps_the_counter():
    """As PyTorch: a state_dict without num_batches_tracked is not missing a key, and the
    module keeps its count (which momentum=None's cumulative average divides by)."""
    torch = require_torch()
    bn, twin = nn.BatchNorm2d(3, momentum=None), torch.nn.BatchNorm2d(3, momentum=None)
    bn.num_batches_tracked.array[...] = 4
    twin.num_batches_tracked.fill_(4)
    state = {k: v for k, v in twin.state_dict().items() if k != 'num_batches_tracked'}
    assert bn.load_state_dict(state).missing_keys == []
    assert twin.load_state_dict(state).missing_keys == []
    assert int(bn.num_batches_tracked.item()) == int(twin.num_batches_tracked.item()) == 4
    x = np.random.default_rng(0).standard_normal((2, 3, 2, 2)).astype(np.float32)
    bn(minidl.tensor(x)), twin(torch.tensor(x))  # the 5th batch weighs 1/5
    np.testing.assert_allclose(bn.running_mean.numpy(), twin.running_mean.numpy(), rtol=1e-6)


def test_non_persistent_buffers_move_but_are_not_saved():
    m = Toy()
    assert 'scratch' not in m.state_dict()
    m.double()
    assert m.scratch.dtype == np.float64


# ---------------------------------------------------------------- modes, gradients, moving

def test_train_eval_requires_grad_zero_grad_apply():
    ours, _ = twins()
    assert ours.training and all(m.training for m in ours.modules())
    assert ours.eval() is ours and not any(m.training for m in ours.modules())
    ours.train()
    assert all(m.training for m in ours.modules())
    with pytest.raises(ValueError, match='boolean'):
        ours.train('yes')
    out = ours(minidl.randn(2, 3, 8, 8)).sum()
    out.backward()
    assert all(p.grad is not None for p in ours.parameters())
    ours.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in ours.parameters())
    ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())
    ours.requires_grad_(False)
    assert not any(p.requires_grad for p in ours.parameters())
    seen = []
    ours.layer1.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == 'Sequential' and seen[0] == 'Conv2d'


def test_to_dtype_keeps_the_parameter_objects():
    ours, _ = twins()
    params = list(ours.parameters())
    ours.double()
    assert all(a is b for a, b in zip(ours.parameters(), params))
    assert all(p.dtype == np.float64 for p in ours.parameters())
    assert ours.bn1.num_batches_tracked.dtype == np.int64        # integers keep their type
    assert ours.bn1.running_mean.dtype == np.float64
    ours.to(minidl.float32)
    assert ours(minidl.randn(1, 3, 8, 8)).dtype == np.float32
    with pytest.raises(TypeError, match='floating point'):
        ours.to(np.int32)


def test_deepcopy_gives_an_independent_module():
    ours, _ = twins()
    clone = copy.deepcopy(ours)
    assert isinstance(clone.fc.weight, nn.Parameter) and clone.fc.weight.requires_grad
    clone.fc.weight.array[...] = 0
    assert ours.fc.weight.numpy().any()


# ---------------------------------------------------------------- hooks

def test_forward_hooks_can_change_inputs_and_outputs_and_be_removed():
    m = nn.Linear(2, 2)
    calls = []
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    post = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    out = m(minidl.ones(3, 2))
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(m.bias.numpy() + 1, (3, 2)))
    assert calls == [(3, 2)]
    pre.remove()
    post.remove()
    np.testing.assert_allclose(m(minidl.zeros(1, 2)).numpy(), m.bias.numpy()[None])
    assert calls == [(3, 2)]


def test_global_hooks_see_every_module_in_call_order():
    ours, _ = twins()
    order = []
    handle = nn.register_module_forward_pre_hook(lambda m, args: order.append(type(m).__name__))
    try:
        ours(minidl.randn(1, 3, 8, 8))
    finally:
        handle.remove()
    assert order[:3] == ['Net', 'Conv2d', 'BatchNorm2d']
    assert order.count('Block') == 3
    ours(minidl.randn(1, 3, 8, 8))
    assert order.count('Net') == 1


# ---------------------------------------------------------------- errors carry the path

def test_error_in_a_submodule_names_its_path_and_keeps_its_type():
    ours, _ = twins()
    ours.layer2[0].conv1 = nn.Conv2d(5, 6, 3, 2, 1, bias=False)   # expects 5 channels
    with pytest.raises(ValueError) as info:
        ours(minidl.randn(2, 3, 8, 8))
    message = str(info.value)
    assert message.startswith('layer2.0.conv1 (Conv2d): conv2d: input has 4 channels, '
                              'weight expects 5'), message
    assert '(6, 5, 3, 3)' in message
    # the same model works again afterwards, and the prefix is not added twice
    with pytest.raises(ValueError) as again:
        ours(minidl.randn(2, 3, 8, 8))
    assert str(again.value).count('layer2.0.conv1') == 1


def test_error_on_the_root_module_names_its_type():
    with pytest.raises(ValueError, match=r'^Linear: linear: input has 3 features'):
        nn.Linear(4, 2)(minidl.ones(1, 3))


def test_error_raised_in_a_forward_names_that_module():
    class Broken(nn.Module):
        def forward(self, x):
            raise KeyError('no such thing')
    net = nn.Sequential(nn.ReLU(), nn.Sequential(nn.Identity(), Broken()))
    with pytest.raises(KeyError, match=r'1\.1 \(Broken\): no such thing'):
        net(minidl.ones(1))


class _OtherDeviceArray(np.ndarray):
    """Stands in for an array on another device: Function.apply sees a different array
    type among its inputs, as it does for a CuPy weight and a NumPy input."""


def test_parameter_on_another_device_error_names_the_layer():
    ours, _ = twins()
    fc = ours.fc
    fc.weight.array = fc.weight.array.view(_OtherDeviceArray)
    with pytest.raises(RuntimeError, match=r'^fc \(Linear\): linear: expected all tensors on '
                                           r'the same device'):
        ours(minidl.randn(1, 3, 8, 8))


@pytest.mark.skipif(not minidl.cuda_is_available(), reason='needs a GPU and CuPy')
def test_module_to_cuda_moves_in_place_and_mismatch_names_the_layer():
    ours, _ = twins()
    weight = ours.fc.weight
    ours.cuda()
    assert ours.fc.weight is weight and weight.device.type == 'cuda'
    assert ours.bn1.running_mean.device.type == 'cuda'
    out = ours(minidl.randn(2, 3, 8, 8, device='cuda'))
    assert out.device.type == 'cuda'
    ours.fc.cpu()
    with pytest.raises(RuntimeError, match=r'^fc \(Linear\): .*same device'):
        ours(minidl.randn(2, 3, 8, 8, device='cuda'))
    ours.cpu()
    assert ours(minidl.randn(2, 3, 8, 8)).device.type == 'cpu'


def test_torch_loads_our_state_dict():
    ours, theirs = twins()
    theirs.load_state_dict(require_twins().torch_state_dict(ours))
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), minidl.tensor(ours.state_dict()[key]).numpy())
