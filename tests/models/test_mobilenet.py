"""MobileNet v1: the paper's parameter count, depthwise layout, parity with a twin."""
import pytest

import minidl
from minidl import models
from tests.models.common import (assert_forward_backward, assert_twin_logits, count_params,
                                 require_twins)

def test_mobilenet_v1_parameter_count():
    # Howard et al. 2017, 1.0 MobileNet-224: 4.2 M; exactly 4,231,976 with BN's affine parameters
    assert count_params(models.mobilenet_v1()) == 4231976


@pytest.mark.parametrize('width_mult', [0.25, 0.5])
def test_mobilenet_v1_width_multiplier(width_mult):
    twins = require_twins()
    with twins.torch.device('meta'):
        twin = twins.MobileNetV1(10, width_mult=width_mult)
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
    twins = require_twins()
    twins.torch.manual_seed(0)
    assert_twin_logits(models.mobilenet_v1(num_classes=10, width_mult=0.25),
                       twins.MobileNetV1(10, width_mult=0.25), (2, 3, 32, 32))


def test_mobilenet_v1_forward_backward_small_input():
    assert_forward_backward(models.mobilenet_v1(num_classes=10, in_channels=1, width_mult=0.25),
                            (2, 1, 32, 32), 10)
