"""VGG-11/13/16/19 (+ batch norm): torchvision's flat `features` keys, counts, parity."""
import numpy as np
import pytest

import minidl
from minidl import models
from tests.models.common import (assert_forward_backward, assert_same_layout, assert_twin_logits,
                                 count_params)
from tests.parity import require_torch

# torchvision's configurations: channels, 'M' for a max-pool
TORCHVISION_CFGS = {
    'vgg11': [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
    'vgg13': [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
    'vgg16': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M',
              512, 512, 512, 'M'],
    'vgg19': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M',
              512, 512, 512, 512, 'M'],
}

# torchvision's documentation (num_params)
PARAMS = {'vgg11': 132863336, 'vgg11_bn': 132868840, 'vgg13': 133047848, 'vgg13_bn': 133053736,
          'vgg16': 138357544, 'vgg16_bn': 138365992, 'vgg19': 143667240, 'vgg19_bn': 143678248}


def torch_vgg(name, num_classes=1000, batch_norm=False):
    """torchvision's VGG written from its cfg lists (make_layers) in torch.nn."""
    torch = require_torch()
    nn = torch.nn
    layers, c = [], 3
    for v in TORCHVISION_CFGS[name]:
        if v == 'M':
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers.append(nn.Conv2d(c, v, 3, padding=1))
            layers += [nn.BatchNorm2d(v), nn.ReLU()] if batch_norm else [nn.ReLU()]
            c = v

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096),
                nn.ReLU(), nn.Dropout(), nn.Linear(4096, num_classes))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return Net()


@pytest.mark.parametrize('name', list(PARAMS))
def test_vgg_parameter_count(name):
    # init_weights=False only skips the re-initialisation, to keep the test quick
    assert count_params(models.get_model(name, init_weights=False)) == PARAMS[name]


@pytest.mark.parametrize('name', ['vgg11', 'vgg16_bn', 'vgg19_bn'])
def test_vgg_layout_is_torchvisions(name):
    torch = require_torch()
    base = name.replace('_bn', '')
    with torch.device('meta'):
        twin = torch_vgg(base, 10, batch_norm=name.endswith('_bn'))
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
    torch = require_torch()
    torch.manual_seed(0)
    assert_twin_logits(models.vgg11(num_classes=10, init_weights=False),
                       torch_vgg('vgg11', 10), (2, 3, 32, 32))


def test_vgg11_bn_forward_backward_small_input():
    assert_forward_backward(models.vgg11_bn(num_classes=10, init_weights=False),
                            (2, 3, 32, 32), 10)
