"""GoogLeNet in torchvision's layout: counts, keys, auxiliary outputs, parity with a twin."""
import numpy as np
import pytest

import minidl
from minidl import models
from tests.models.common import (assert_forward_backward, assert_twin_logits, count_params,
                                 state_dict_layout)
from tests.parity import on_device, require_torch


def torch_googlenet(num_classes=1000, aux_logits=True, transform_input=False):
    """torchvision's GoogLeNet (BasicConv2d, Inception, InceptionAux) re-created in torch.nn."""
    torch = require_torch()
    nn, F = torch.nn, torch.nn.functional

    class BasicConv2d(nn.Module):
        def __init__(self, i, o, **kw):
            super().__init__()
            self.conv = nn.Conv2d(i, o, bias=False, **kw)
            self.bn = nn.BatchNorm2d(o, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    class Inception(nn.Module):
        def __init__(self, i, c1, c3r, c3, c5r, c5, pp):
            super().__init__()
            self.branch1 = BasicConv2d(i, c1, kernel_size=1)
            self.branch2 = nn.Sequential(BasicConv2d(i, c3r, kernel_size=1),
                                         BasicConv2d(c3r, c3, kernel_size=3, padding=1))
            self.branch3 = nn.Sequential(BasicConv2d(i, c5r, kernel_size=1),
                                         BasicConv2d(c5r, c5, kernel_size=3, padding=1))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                         BasicConv2d(i, pp, kernel_size=1))

        def forward(self, x):
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                              self.branch4(x)], 1)

    class InceptionAux(nn.Module):
        def __init__(self, i, n):
            super().__init__()
            self.conv = BasicConv2d(i, 128, kernel_size=1)
            self.fc1 = nn.Linear(2048, 1024)
            self.fc2 = nn.Linear(1024, n)
            self.dropout = nn.Dropout(0.7)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.conv2 = BasicConv2d(64, 64, kernel_size=1)
            self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
            self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
            self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
            self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
            self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
            self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
            self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
            self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
            self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
            self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
            self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
            if aux_logits:
                self.aux1 = InceptionAux(512, num_classes)
                self.aux2 = InceptionAux(528, num_classes)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(1024, num_classes)

        def forward(self, x):  # eval mode only
            if transform_input:
                x = torch.cat([x[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5,
                               x[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5,
                               x[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5], 1)
            x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
            x = self.maxpool3(self.inception3b(self.inception3a(x)))
            for name in ('4a', '4b', '4c', '4d', '4e'):
                x = getattr(self, 'inception' + name)(x)
            x = self.inception5b(self.inception5a(self.maxpool4(x)))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return Net()


def test_googlenet_parameter_counts():
    # torchvision's documentation: 6,624,904 (its checkpoint drops the auxiliary heads)
    assert count_params(models.googlenet(aux_logits=False, init_weights=False)) == 6624904
    assert count_params(models.googlenet(init_weights=False)) == 13004888


def test_googlenet_layout_is_torchvisions():
    torch = require_torch()
    with torch.device('meta'):
        twin = torch_googlenet(10)
    ours = state_dict_layout(models.googlenet(num_classes=10, init_weights=False).state_dict())
    assert ours == state_dict_layout(twin.state_dict())
    assert ours['inception3a.branch3.1.conv.weight'] == (32, 16, 3, 3)  # torchvision's 3x3
    assert ours['aux1.fc1.weight'] == (1024, 2048)


@pytest.mark.parametrize('transform_input', [False, True])
def test_googlenet_matches_torch_twin(transform_input):
    torch = require_torch()
    torch.manual_seed(0)
    ours = models.googlenet(num_classes=10, transform_input=transform_input)
    assert_twin_logits(ours, torch_googlenet(10, transform_input=transform_input),
                       (2, 3, 64, 64), atol=2e-4)


def test_googlenet_auxiliary_outputs_in_training_only():
    model = models.googlenet(num_classes=5)
    out = assert_forward_backward(model, (2, 3, 32, 32), 5)
    assert isinstance(out, models.GoogLeNetOutputs)
    assert out._fields == ('logits', 'aux_logits2', 'aux_logits1')
    model.eval()
    with minidl.no_grad():
        logits = model(minidl.tensor(on_device(np.random.default_rng(0).standard_normal(
            (2, 3, 32, 32)).astype(np.float32))))
    assert isinstance(logits, minidl.Tensor) and logits.shape == (2, 5)


def test_googlenet_without_aux_returns_logits_in_training():
    model = models.googlenet(num_classes=5, aux_logits=False, in_channels=1)
    assert model.aux1 is None and model.aux2 is None
    out = assert_forward_backward(model, (2, 1, 32, 32), 5)
    assert isinstance(out, minidl.Tensor)


def test_googlenet_loss_weights_auxiliary_losses():
    torch = require_torch()
    rng = np.random.default_rng(0)
    parts = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    target = np.array([0, 2, 1, 2])
    outputs = models.GoogLeNetOutputs(*[minidl.tensor(p) for p in parts])
    loss = models.googlenet_loss(outputs, minidl.tensor(target), aux_weight=0.3)
    ce = [torch.nn.functional.cross_entropy(torch.tensor(p), torch.tensor(target)).item()
          for p in parts]
    assert float(loss.item()) == pytest.approx(ce[0] + 0.3 * (ce[1] + ce[2]), rel=1e-5)
    plain = models.googlenet_loss(minidl.tensor(parts[0]), minidl.tensor(target))
    assert float(plain.item()) == pytest.approx(ce[0], rel=1e-5)


def test_inception_block_concatenates_branches():
    block = models.inception_block(8, 4, 2, 6, 2, 3, 5)
    assert block(minidl.randn(2, 8, 7, 7)).shape == (2, 4 + 6 + 3 + 5, 7, 7)
