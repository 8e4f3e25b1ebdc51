"""AlexNet (torchvision's) and the 2012 paper's AlexNet with LRN."""
import pytest

import minidl
from minidl import models
from tests.models.common import (assert_forward_backward, assert_same_layout, assert_twin_logits,
                                 count_params)
from tests.parity import require_torch


def torch_alexnet(num_classes=1000):
    """torchvision's AlexNet layout in torch.nn."""
    nn = require_torch().nn
    features = nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
    classifier = nn.Sequential(
        nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096),
        nn.ReLU(), nn.Linear(4096, num_classes))
    return nn.ModuleDict({'features': features, 'classifier': classifier})


def torch_alexnet_2012(num_classes, grouped=False):
    """The paper's AlexNet in torch.nn, LRN with the paper's constants (alpha * size)."""
    torch = require_torch()
    nn = torch.nn
    g = 2 if grouped else 1

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(),
                nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
                nn.Conv2d(96, 256, 5, padding=2, groups=g), nn.ReLU(),
                nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
                nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
                nn.Conv2d(384, 384, 3, padding=1, groups=g), nn.ReLU(),
                nn.Conv2d(384, 256, 3, padding=1, groups=g), nn.ReLU(), nn.MaxPool2d(3, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
                nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return Net()


def test_alexnet_parameter_count():
    assert count_params(models.alexnet()) == 61100840  # torchvision's documentation


def test_alexnet_2012_parameter_counts():
    assert count_params(models.alexnet_2012()) == 62378344
    # two-GPU grouping of conv2, conv4, conv5: the paper's "60 million parameters"
    assert count_params(models.alexnet_2012(grouped=True)) == 60965224


def test_alexnet_layout_is_torchvisions():
    torch = require_torch()
    with torch.device('meta'):
        twin = torch_alexnet(10)
    assert_same_layout(models.alexnet(num_classes=10), twin.state_dict())


def test_alexnet_forward_backward_small_input():
    assert_forward_backward(models.alexnet(num_classes=10), (2, 3, 63, 63), 10)


@pytest.mark.parametrize('grouped', [False, True])
def test_alexnet_2012_matches_torch_twin(grouped):
    torch = require_torch()
    torch.manual_seed(0)
    ours = models.alexnet_2012(num_classes=10, grouped=grouped)
    assert_twin_logits(ours, torch_alexnet_2012(10, grouped), (2, 3, 67, 67))


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
