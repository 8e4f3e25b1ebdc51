"""GoogLeNet in torchvision's layout: counts, keys, auxiliary outputs, parity with a twin."""
import numpy as np
import pytest

import minidl
from minidl import models
from tests.models.common import (assert_forward_backward, assert_twin_logits, count_params,
                                 require_twins, state_dict_layout)
from tests.parity import on_device, require_torch


def test_googlenet_parameter_counts():
    # torchvision's documentation: 6,624,904 (its checkpoint drops the auxiliary heads)
    assert count_params(models.googlenet(aux_logits=False, init_weights=False)) == 6624904
    assert count_params(models.googlenet(init_weights=False)) == 13004888


def test_googlenet_layout_is_torchvisions():
    twins = require_twins()
    with twins.torch.device('meta'):
        twin = twins.GoogLeNet(10)
    ours = state_dict_layout(models.googlenet(num_classes=10, init_weights=False).state_dict())
    assert ours == state_dict_layout(twin.state_dict())
    assert ours['inception3a.branch3.1.conv.weight'] == (32, 16, 3, 3)  # torchvision's 3x3
    assert ours['aux1.fc1.weight'] == (1024, 2048)


@pytest.mark.parametrize('transform_input', [False, True])
def test_googlenet_matches_torch_twin(transform_input):
    twins = require_twins()
    twins.torch.manual_seed(0)
    ours = models.googlenet(num_classes=10, transform_input=transform_input)
    assert_twin_logits(ours, twins.GoogLeNet(10, transform_input=transform_input),
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
