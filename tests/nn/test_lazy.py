"""Lazy layers: sizes read from the first input, then the plain class, as PyTorch's."""
import copy

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from tests.parity import require_torch

pytestmark = pytest.mark.cpu_only


@pytest.mark.parametrize('lazy, plain, shape', [
    (lambda: nn.LazyLinear(3), lambda: nn.Linear(5, 3), (2, 5)),
    (lambda: nn.LazyConv2d(4, 3, padding=1, groups=2), lambda: nn.Conv2d(6, 4, 3, padding=1, groups=2),
     (2, 6, 5, 5)),
    (lambda: nn.LazyConv2d(4, 3), lambda: nn.Conv2d(6, 4, 3), (6, 5, 5)),  # unbatched (C, H, W)
    (lambda: nn.LazyBatchNorm1d(), lambda: nn.BatchNorm1d(7), (4, 7)),
    (lambda: nn.LazyBatchNorm2d(momentum=0.2), lambda: nn.BatchNorm2d(3, momentum=0.2), (2, 3, 4, 4)),
])
def test_first_call_infers_the_size_and_becomes_the_plain_layer(lazy, plain, shape):
    x = minidl.randn(*shape)
    minidl.manual_seed(5)
    layer = lazy()
    assert layer.has_uninitialized_params()
    params_before = list(layer.parameters())
    out = layer(x)
    minidl.manual_seed(5)
    reference = plain()
    assert type(layer) is type(reference) and repr(layer) == repr(reference)
    assert [p is q for p, q in zip(layer.parameters(), params_before)] == [True] * len(params_before)
    for (name, a), (_, b) in zip(layer.state_dict().items(), reference.state_dict().items()):
        if name not in ('running_mean', 'running_var', 'num_batches_tracked'):
            np.testing.assert_array_equal(a, b, err_msg=name)   # the same initialisation draws
    np.testing.assert_allclose(out.numpy(), reference(x).numpy(), rtol=1e-6)


def test_state_dict_keys_and_shapes_match_torch_lazy_layers():
    torch = require_torch()
    mine = nn.Sequential(nn.LazyConv2d(6, 5, padding=2), nn.LazyBatchNorm2d(), nn.ReLU(),
                         nn.Flatten(), nn.LazyLinear(10))
    theirs = torch.nn.Sequential(torch.nn.LazyConv2d(6, 5, padding=2), torch.nn.LazyBatchNorm2d(),
                                 torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(10))
    mine(minidl.zeros(1, 1, 8, 8))
    theirs(torch.zeros(1, 1, 8, 8))
    assert [(k, tuple(v.shape)) for k, v in mine.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    mine.load_state_dict(theirs.state_dict())


def test_uninitialized_layers_copy_and_load_a_checkpoint():
    net = nn.Sequential(nn.LazyLinear(4), nn.LazyBatchNorm1d())
    twin = copy.deepcopy(net)                     # still lazy
    net(minidl.randn(8, 6))
    twin.load_state_dict(net.state_dict())        # takes its shapes from the checkpoint
    assert twin[0].in_features == 6 and twin[1].num_features == 4
    net.eval()
    twin.eval()
    x = minidl.randn(3, 6)
    np.testing.assert_array_equal(twin(x).numpy(), net(x).numpy())
    assert type(twin[0]) is nn.Linear


def test_an_input_without_the_size_is_an_error():
    with pytest.raises(ValueError, match='LazyConv2d: cannot infer in_channels from an input '
                                         r'of shape \(3,\)'):
        nn.LazyConv2d(2, 1)(minidl.ones(3))
