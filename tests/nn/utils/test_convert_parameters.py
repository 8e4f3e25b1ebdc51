"""Parameters as one vector and back, against torch.nn.utils."""
import numpy as np
import pytest

import minidl
import minidl.nn as nn
from tests.parity import require_torch


def test_parameters_to_vector_and_back_match_torch():
    torch = require_torch()
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                                 torch.nn.Linear(4, 2)).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    vec = nn.utils.parameters_to_vector(ours.parameters())
    ref = torch.nn.utils.parameters_to_vector(theirs.parameters())
    np.testing.assert_array_equal(vec.numpy(), ref.detach().numpy())
    (vec * minidl.arange(vec.numel(), dtype=minidl.float64)).sum().backward()   # differentiable
    (ref * torch.arange(ref.numel(), dtype=torch.float64)).sum().backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())

    new = np.random.default_rng(0).standard_normal(vec.numel())
    shared = minidl.tensor(new)
    nn.utils.vector_to_parameters(shared, ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs.parameters())
    x = np.random.default_rng(1).standard_normal((5, 3))
    np.testing.assert_allclose(ours(minidl.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    shared.array[0] = 7.0                    # the parameters share the vector's memory
    assert ours[0].weight[0, 0].item() == 7.0 and ours[0].weight.requires_grad


def test_vector_to_parameters_errors():
    params = list(nn.Linear(2, 2).parameters())
    with pytest.raises(TypeError, match='vector_to_parameters: expected a Tensor'):
        nn.utils.vector_to_parameters(np.zeros(6), params)
    with pytest.raises(RuntimeError, match=r'vec has shape \(5,\), the parameters hold 6'):
        nn.utils.vector_to_parameters(minidl.zeros(5), params)
