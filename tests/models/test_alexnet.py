"""AlexNet (torchvision's) and the 2012 paper's AlexNet with LRN."""
import pytest

import minidl
from minidl import models
from tests.models.common import (assert_forward_backward, assert_same_layout, assert_twin_logits,
                                 count_params, require_twins)


def test_alexnet_parameter_count():
    assert count_params(models.alexnet()) == 61100840  # torchvision's documentation


def test_alexnet_2012_parameter_counts():
    assert count_params(models.alexnet_2012()) == 62378344
    # two-GPU grouping of conv2, conv4, conv5: the paper's "60 million parameters"
    assert count_params(models.alexnet_2012(grouped=True)) == 60965224


def test_alexnet_layout_is_torchvisions():
    twins = require_twins()
    with twins.torch.device('meta'):
        twin = twins.AlexNet(10)
    assert_same_layout(models.alexnet(num_classes=10), twin.state_dict())


def test_alexnet_forward_backward_small_input():
    assert_forward_backward(models.alexnet(num_classes=10), (2, 3, 63, 63), 10)


@pytest.mark.parametrize('grouped', [False, True])
def test_alexnet_2012_matches_torch_twin(grouped):
    twins = require_twins()
    twins.torch.manual_seed(0)
    ours = models.alexnet_2012(num_classes=10, grouped=grouped)
    assert_twin_logits(ours, twins.AlexNet2012(10, grouped=grouped), (2, 3, 67, 67))


def test_alexnet_2012_lrn_is_the_papers():
    lrn = models.alexnet_2012().features[2]
    assert isinstance(lrn, minidl.nn.LocalResponseNorm)
    # PyTorch's alpha is divided by size: 5e-4 / 5 = the paper's 1e-4
    assert (lrn.size, lrn.alpha / lrn.size, lrn.beta, lrn.k) == (5, pytest.approx(1e-4), 0.75, 2.0)


def test_alexnet_2012_paper_init():
    model = models.alexnet_2012(num_classes=10, paper_init=True)
    sd = model.state_dict()
    for key in ('features.4.bias', 'features.10.bias', 'features.12.bias',
                'classifier.1.bias', 'classifier.4.bias'):
        assert (sd[key] == 1).all(), key
    for key in ('features.0.bias', 'features.8.bias', 'classifier.6.bias'):
        assert (sd[key] == 0).all(), key
    assert abs(float(sd['classifier.1.weight'].std()) - 0.01) < 1e-3
