"""DenseNet in torchvision's layout: counts, keys, parity with a twin, small inputs."""
import numpy as np

import minidl
from minidl import models
from tests.models.common import (assert_forward_backward, assert_same_layout, assert_twin_logits,
                                 count_params, require_twins)


TINY = dict(growth_rate=8, block_config=(2, 3, 2), num_init_features=16, bn_size=2)


def test_densenet121_parameter_count():
    assert count_params(models.densenet121()) == 7978856  # torchvision's documentation


def test_densenet121_layout_is_torchvisions():
    twins = require_twins()
    with twins.torch.device('meta'):
        twin = twins.DenseNet(32, (6, 12, 24, 16), 64, 4, num_classes=10)
    ours = models.densenet121(num_classes=10)
    assert_same_layout(ours, twin.state_dict())
    sd = ours.state_dict()
    assert sd['features.denseblock1.denselayer1.norm1.weight'].shape == (64,)
    assert sd['features.denseblock4.denselayer16.conv2.weight'].shape == (32, 128, 3, 3)
    assert sd['features.transition3.conv.weight'].shape == (512, 1024, 1, 1)
    assert sd['classifier.weight'].shape == (10, 1024)


def test_tiny_densenet_matches_torch_twin():
    twins = require_twins()
    twins.torch.manual_seed(0)
    ours = models.DenseNet(num_classes=10, **TINY)
    assert_twin_logits(ours, twins.DenseNet(num_classes=10, **TINY), (2, 3, 32, 32))


def test_dense_block_concatenates():
    block = models.DenseBlock(3, num_input_features=5, bn_size=2, growth_rate=4)
    out = block(minidl.randn(2, 5, 6, 6))
    assert out.shape == (2, 5 + 3 * 4, 6, 6)


def test_densenet_small_input_stem():
    model = models.DenseNet(num_classes=10, small_input=True, in_channels=1, **TINY)
    assert model.state_dict()['features.conv0.weight'].shape == (16, 1, 3, 3)
    assert isinstance(model.features.pool0, minidl.nn.Identity)
    assert_forward_backward(model, (2, 1, 32, 32), 10)


def test_densenet121_forward_backward_cifar_size():
    out = assert_forward_backward(models.densenet121(num_classes=10), (2, 3, 32, 32), 10)
    assert np.all(np.isfinite(out.numpy()))
