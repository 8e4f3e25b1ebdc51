"""MobileNet v1: the paper's parameter count, depthwise layout, parity with a twin."""
import pytest

import minidl
from minidl import models
from tests.models.common import assert_forward_backward, assert_twin_logits, count_params
from tests.parity import require_torch

BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + \
         [(1024, 2), (1024, 1)]


def torch_mobilenet_v1(num_classes, width_mult):
    """MobileNet v1 (Howard et al., Table 1) in torch.nn with our module names."""
    torch = require_torch()
    nn = torch.nn

    def cbr(i, o, k, s, g=1):
        return nn.Sequential(nn.Conv2d(i, o, k, s, k // 2, groups=g, bias=False),
                             nn.BatchNorm2d(o), nn.ReLU())

    class Separable(nn.Module):
        def __init__(self, i, o, s):
            super().__init__()
            self.depthwise = cbr(i, i, 3, s, g=i)
            self.pointwise = cbr(i, o, 1, 1)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            c = int(32 * width_mult)
            layers = [cbr(3, c, 3, 2)]
            for o, s in BLOCKS:
                layers.append(Separable(c, int(o * width_mult), s))
                c = int(o * width_mult)
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(c, num_classes)

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return Net()


def test_mobilenet_v1_parameter_count():
    # Howard et al. 2017, 1.0 MobileNet-224: 4.2 M; exactly 4,231,976 with BN's affine parameters
    assert count_params(models.mobilenet_v1()) == 4231976


@pytest.mark.parametrize('width_mult', [0.25, 0.5])
def test_mobilenet_v1_width_multiplier(width_mult):
    torch = require_torch()
    with torch.device('meta'):
        twin = torch_mobilenet_v1(10, width_mult)
    expected = sum(p.numel() for p in twin.parameters())
    assert count_params(models.mobilenet_v1(num_classes=10, width_mult=width_mult)) == expected


def test_mobilenet_v1_convolutions_are_depthwise_separable():
    model = models.mobilenet_v1(num_classes=10, width_mult=0.25)
    assert len(model.features) == 14
    block = model.features[13]
    assert block.depthwise[0].groups == 256 and block.depthwise[0].weight.shape == (256, 1, 3, 3)
    assert block.pointwise[0].weight.shape == (256, 256, 1, 1)
    assert all(m.bias is None for m in model.modules() if isinstance(m, minidl.nn.Conv2d))


def test_mobilenet_v1_matches_torch_twin():
    torch = require_torch()
    torch.manual_seed(0)
    assert_twin_logits(models.mobilenet_v1(num_classes=10, width_mult=0.25),
                       torch_mobilenet_v1(10, 0.25), (2, 3, 32, 32))


def test_mobilenet_v1_forward_backward_small_input():
    assert_forward_backward(models.mobilenet_v1(num_classes=10, in_channels=1, width_mult=0.25),
                            (2, 1, 32, 32), 10)
