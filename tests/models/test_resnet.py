"""ResNet / ResNeXt in torchvision's layout: counts, keys, CIFAR stem, parity with a twin."""
import numpy as np
import pytest

import minidl
from minidl import models
from tests.models.common import (assert_forward_backward, assert_same_layout, assert_twin_logits,
                                 count_params, randomize_batch_norm, require_twins,
                                 to_test_device)
from tests.parity import on_device

# torchvision's documentation (num_params)
PARAMS = {'resnet18': 11689512, 'resnet34': 21797672, 'resnet50': 25557032,
          'resnet101': 44549160, 'resnet152': 60192808, 'resnext50_32x4d': 25028904}


@pytest.mark.parametrize('name', list(PARAMS))
def test_resnet_parameter_count(name):
    assert count_params(models.get_model(name)) == PARAMS[name]


@pytest.mark.parametrize('name, bottleneck, layers, groups, width', [
    ('resnet18', False, [2, 2, 2, 2], 1, 64),
    ('resnet50', True, [3, 4, 6, 3], 1, 64),
    ('resnext50_32x4d', True, [3, 4, 6, 3], 32, 4),
])
def test_resnet_layout_is_torchvisions(name, bottleneck, layers, groups, width):
    twins = require_twins()
    block = twins.Bottleneck if bottleneck else twins.BasicBlock
    with twins.torch.device('meta'):
        twin = twins.ResNet(block, layers, 10, groups=groups, width_per_group=width)
    assert_same_layout(models.get_model(name, num_classes=10), twin.state_dict())


def test_resnet18_cifar_stem_matches_torch_twin():
    twins = require_twins()
    twins.torch.manual_seed(0)
    ours = models.resnet18(num_classes=10, small_input=True)
    assert ours.state_dict()['conv1.weight'].shape == (64, 3, 3, 3)
    assert isinstance(ours.maxpool, minidl.nn.Identity)
    assert_twin_logits(ours, twins.resnet18(10, small_input=True), (2, 3, 32, 32))


def test_tiny_bottleneck_resnet_matches_torch_twin_in_training():
    """Training mode (batch statistics): logits, input gradient and BN running stats agree."""
    twins = require_twins()
    torch = twins.torch
    torch.manual_seed(0)
    twin = twins.ResNet(twins.Bottleneck, [1, 1, 1, 1], 6, groups=2, width_per_group=8)
    randomize_batch_norm(twin)
    ours = models.ResNet(models.Bottleneck, [1, 1, 1, 1], num_classes=6, groups=2,
                         width_per_group=8)
    ours.load_state_dict(twin.state_dict())
    ours = to_test_device(ours)
    x = np.random.default_rng(0).standard_normal((2, 3, 40, 40)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    ref = twin(tx)
    ref.sum().backward()
    mx = minidl.tensor(on_device(x), requires_grad=True)
    out = ours(mx)
    out.sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(ours.layer1[0].bn2.running_var.numpy(),
                               twin.layer1[0].bn2.running_var.numpy(), rtol=1e-4)


def test_stride_in_1x1_moves_the_stride_only():
    v15 = models.resnet50(num_classes=10)
    paper = models.resnet50(num_classes=10, stride_in_1x1=True)
    assert state_shapes(v15) == state_shapes(paper)
    block_v15, block_paper = v15.layer2[0], paper.layer2[0]
    assert tuple(block_v15.conv1.stride) == (1, 1) and tuple(block_v15.conv2.stride) == (2, 2)
    assert tuple(block_paper.conv1.stride) == (2, 2) and tuple(block_paper.conv2.stride) == (1, 1)
    out = assert_forward_backward(paper, (2, 3, 32, 32), 10)
    assert out.shape == (2, 10)


def state_shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_zero_init_residual():
    basic = models.resnet18(num_classes=10, zero_init_residual=True)
    assert not np.any(basic.layer1[0].bn2.weight.numpy())
    assert np.all(basic.layer1[0].bn1.weight.numpy() == 1)
    bottleneck = models.resnet50(num_classes=10, zero_init_residual=True)
    assert not np.any(bottleneck.layer3[2].bn3.weight.numpy())


def test_initialisation_is_torchvisions():
    model = models.resnet18(num_classes=10)
    w = model.layer3[0].conv2.weight.numpy()  # fan_out = 256 * 9
    assert abs(w.std() - np.sqrt(2 / (256 * 9))) < 0.1 * np.sqrt(2 / (256 * 9))
    assert np.all(model.bn1.weight.numpy() == 1) and not np.any(model.bn1.bias.numpy())


@pytest.mark.parametrize('name, kwargs, size', [
    ('resnet18', dict(small_input=True), 32),
    ('resnet34', dict(), 32),
    ('resnext50_32x4d', dict(), 32),
])
def test_resnet_forward_backward_small_input(name, kwargs, size):
    assert_forward_backward(models.get_model(name, num_classes=10, **kwargs),
                            (2, 3, size, size), 10)


def test_basic_block_rejects_groups():
    with pytest.raises(ValueError, match='BasicBlock'):
        models.ResNet(models.BasicBlock, [1, 1, 1, 1], groups=32, width_per_group=4)
