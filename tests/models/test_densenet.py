"""DenseNet in torchvision's layout: counts, keys, parity with a twin, small inputs."""
from collections import OrderedDict

import numpy as np

import minidl
from minidl import models
from tests.models.common import (assert_forward_backward, assert_same_layout, assert_twin_logits,
                                 count_params)
from tests.parity import require_torch


def torch_densenet(growth_rate, block_config, num_init_features, bn_size, num_classes):
    """torchvision's DenseNet (_DenseLayer, _DenseBlock, _Transition) re-created in torch.nn."""
    torch = require_torch()
    nn, F = torch.nn, torch.nn.functional

    class DenseLayer(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm1 = nn.BatchNorm2d(c)
            self.relu1 = nn.ReLU()
            self.conv1 = nn.Conv2d(c, bn_size * growth_rate, 1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
            self.relu2 = nn.ReLU()
            self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

        def forward(self, features):
            x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
            return self.conv2(self.relu2(self.norm2(x)))

    class DenseBlock(nn.ModuleDict):
        def __init__(self, n, c):
            super().__init__()
            for i in range(n):
                self.add_module(f'denselayer{i + 1}', DenseLayer(c + i * growth_rate))

        def forward(self, x):
            features = [x]
            for layer in self.values():
                features.append(layer(features))
            return torch.cat(features, 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(OrderedDict([
                ('conv0', nn.Conv2d(3, num_init_features, 7, 2, 3, bias=False)),
                ('norm0', nn.BatchNorm2d(num_init_features)), ('relu0', nn.ReLU()),
                ('pool0', nn.MaxPool2d(3, 2, 1))]))
            c = num_init_features
            for i, n in enumerate(block_config):
                self.features.add_module(f'denseblock{i + 1}', DenseBlock(n, c))
                c += n * growth_rate
                if i != len(block_config) - 1:
                    self.features.add_module(f'transition{i + 1}', nn.Sequential(OrderedDict([
                        ('norm', nn.BatchNorm2d(c)), ('relu', nn.ReLU()),
                        ('conv', nn.Conv2d(c, c // 2, 1, bias=False)),
                        ('pool', nn.AvgPool2d(2, 2))])))
                    c //= 2
            self.features.add_module('norm5', nn.BatchNorm2d(c))
            self.classifier = nn.Linear(c, num_classes)

        def forward(self, x):
            x = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1))
            return self.classifier(torch.flatten(x, 1))

    return Net()


TINY = dict(growth_rate=8, block_config=(2, 3, 2), num_init_features=16, bn_size=2)


def test_densenet121_parameter_count():
    assert count_params(models.densenet121()) == 7978856  # torchvision's documentation


def test_densenet121_layout_is_torchvisions():
    torch = require_torch()
    with torch.device('meta'):
        twin = torch_densenet(32, (6, 12, 24, 16), 64, 4, 10)
    ours = models.densenet121(num_classes=10)
    assert_same_layout(ours, twin.state_dict())
    sd = ours.state_dict()
    assert sd['features.denseblock1.denselayer1.norm1.weight'].shape == (64,)
    assert sd['features.denseblock4.denselayer16.conv2.weight'].shape == (32, 128, 3, 3)
    assert sd['features.transition3.conv.weight'].shape == (512, 1024, 1, 1)
    assert sd['classifier.weight'].shape == (10, 1024)


def test_tiny_densenet_matches_torch_twin():
    torch = require_torch()
    torch.manual_seed(0)
    ours = models.DenseNet(num_classes=10, **TINY)
    assert_twin_logits(ours, torch_densenet(num_classes=10, **TINY), (2, 3, 32, 32))


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
