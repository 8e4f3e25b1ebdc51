"""Network in Network: blocks, no dense layer, parity with d2l's net in torch.nn."""
from minidl import models
import minidl
from tests.models.common import (assert_forward_backward, assert_twin_logits, count_params,
                                 require_twins)


def test_nin_parameter_count():
    # blocks: 30,336 + 746,240 + 1,180,800 + 34,790 (10 classes, 1 input channel)
    assert count_params(models.nin(num_classes=10, in_channels=1)) == 1992166


def test_nin_has_no_dense_layer():
    model = models.nin(num_classes=10)
    assert not any(isinstance(m, minidl.nn.Linear) for m in model.modules())


def test_nin_block():
    block = models.nin_block(3, 8, kernel_size=5, stride=2, padding=1)
    assert [type(m).__name__ for m in block] == ['Conv2d', 'ReLU'] * 3
    assert block(minidl.randn(2, 3, 11, 11)).shape == (2, 8, 5, 5)


def test_nin_matches_torch_twin():
    twins = require_twins()
    twins.torch.manual_seed(0)
    assert_twin_logits(models.nin(num_classes=10, in_channels=1), twins.NiN(10, 1),
                       (2, 1, 96, 96))


def test_nin_forward_backward_smallest_input():
    assert_forward_backward(models.nin(num_classes=10, in_channels=1), (2, 1, 67, 67), 10)
