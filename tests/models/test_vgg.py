"""VGG-11/13/16/19 (+ batch norm): torchvision's flat `features` keys, counts, parity."""
import numpy as np
import pytest

import minidl
from minidl import models
from tests.models.common import (assert_forward_backward, assert_same_layout, assert_twin_logits,
                                 count_params, require_twins)

# torchvision's documentation (num_params)
PARAMS = {'vgg11': 132863336, 'vgg11_bn': 132868840, 'vgg13': 133047848, 'vgg13_bn': 133053736,
          'vgg16': 138357544, 'vgg16_bn': 138365992, 'vgg19': 143667240, 'vgg19_bn': 143678248}


@pytest.mark.parametrize('name', list(PARAMS))
def test_vgg_parameter_count(name):
    # init_weights=False only skips the re-initialisation, to keep the test quick
    assert count_params(models.get_model(name, init_weights=False)) == PARAMS[name]


@pytest.mark.parametrize('name', ['vgg11', 'vgg16_bn', 'vgg19_bn'])
def test_vgg_layout_is_torchvisions(name):
    twins = require_twins()
    base = name.replace('_bn', '')
    with twins.torch.device('meta'):
        twin = twins.VGG(base, 10, batch_norm=name.endswith('_bn'))
    assert_same_layout(models.get_model(name, num_classes=10, init_weights=False),
                       twin.state_dict())


def test_vgg_block():
    block = models.vgg_block(2, 3, 8, batch_norm=True)
    kinds = [type(m).__name__ for m in block]
    assert kinds == ['Conv2d', 'BatchNorm2d', 'ReLU', 'Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d']
    out = block(minidl.randn(2, 3, 8, 6))
    assert out.shape == (2, 8, 4, 3)


def test_vgg_custom_arch():
    model = models.VGG(((1, 4), (2, 8)), num_classes=5, in_channels=1)
    assert model.state_dict()['features.3.weight'].shape == (8, 4, 3, 3)
    assert model.state_dict()['classifier.0.weight'].shape == (4096, 8 * 7 * 7)
    assert_forward_backward(model, (2, 1, 16, 16), 5)


def test_vgg_initialisation_is_torchvisions():
    model = models.vgg11(num_classes=10)
    sd = model.state_dict()
    assert not np.any(sd['features.0.bias']) and not np.any(sd['classifier.0.bias'])
    assert abs(float(sd['classifier.0.weight'].std()) - 0.01) < 1e-3
    # kaiming normal, fan_out: std sqrt(2 / (64 * 9)) for the first conv
    assert abs(float(sd['features.0.weight'].std()) - np.sqrt(2 / (64 * 9))) < 0.01


def test_vgg11_matches_torch_twin_on_cifar_size():
    twins = require_twins()
    twins.torch.manual_seed(0)
    assert_twin_logits(models.vgg11(num_classes=10, init_weights=False),
                       twins.VGG('vgg11', 10), (2, 3, 32, 32))


def test_vgg11_bn_forward_backward_small_input():
    assert_forward_backward(models.vgg11_bn(num_classes=10, init_weights=False),
                            (2, 3, 32, 32), 10)
