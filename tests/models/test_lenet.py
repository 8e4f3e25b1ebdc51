"""LeNet-5 and LeNet-5 with batch norm: layout, parameter counts, parity with a torch.nn twin."""
import numpy as np

from minidl import models
from tests.models.common import (assert_forward_backward, assert_twin_logits, count_params,
                                 require_twins, state_dict_layout)


def test_lenet5_parameter_count():
    # 156 + 2416 + 48120 + 10164 + 850
    assert count_params(models.lenet5(num_classes=10)) == 61706
    # batch norm adds weight and bias per channel / feature: 2 * (6 + 16 + 120 + 84)
    assert count_params(models.lenet5_bn(num_classes=10)) == 61706 + 452


def test_lenet5_layout():
    layout = state_dict_layout(models.lenet5(num_classes=10).state_dict())
    assert layout == {'0.weight': (6, 1, 5, 5), '0.bias': (6,), '3.weight': (16, 6, 5, 5),
                      '3.bias': (16,), '7.weight': (120, 400), '7.bias': (120,),
                      '9.weight': (84, 120), '9.bias': (84,), '11.weight': (10, 84),
                      '11.bias': (10,)}


def test_lenet5_matches_torch_twin():
    twins = require_twins()
    twins.torch.manual_seed(0)
    assert_twin_logits(models.lenet5(num_classes=10), twins.lenet5(10), (3, 1, 28, 28))


def test_lenet5_bn_matches_torch_twin():
    twins = require_twins()
    twins.torch.manual_seed(0)
    assert_twin_logits(models.lenet5_bn(num_classes=10), twins.lenet5(10, batch_norm=True),
                       (3, 1, 28, 28))


def test_lenet5_forward_backward():
    assert_forward_backward(models.lenet5(num_classes=10), (2, 1, 28, 28), 10)
    assert_forward_backward(models.lenet5_bn(num_classes=10), (2, 1, 28, 28), 10)


def test_lenet5_in_channels():
    model = models.lenet5(num_classes=7, in_channels=3)
    assert model.state_dict()['0.weight'].shape == (6, 3, 5, 5)
    out = assert_forward_backward(model, (2, 3, 28, 28), 7)
    assert np.all(np.isfinite(out.numpy()))
