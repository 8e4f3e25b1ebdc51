"""RMSprop: PyTorch's trajectory over every flag combination, state dicts both ways."""
import itertools

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from minidl.optim import RMSprop
from tests.functional.kernels import cp  # noqa: F401 (a fixture)
from tests.optim.common import (check_kernel_follows_generic_path,
                                check_state_dicts_cross_over, config_id, follow_torch, groups)
from tests.parity import require_torch

CONFIGS = [dict(centered=centered, momentum=momentum, maximize=maximize, weight_decay=wd)
           for centered, momentum, maximize, wd in itertools.product(
               [False, True], [0, 0.9], [False, True], [0, 0.1])]
SECOND_GROUP = dict(lr=0.003, alpha=0.9, eps=1e-6)


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('config', CONFIGS, ids=config_id)
def test_follows_torch_for_20_steps(config, dtype):
    follow_torch(RMSprop, dtype, SECOND_GROUP, lr=0.01, **config)


def test_two_groups_with_different_flags():
    second = dict(lr=0.002, centered=True, momentum=0.5, weight_decay=0.2)
    ours, opt = follow_torch(RMSprop, np.float64, second, lr=0.01, alpha=0.95, maximize=True)
    assert sorted(opt.state[ours[2].bias]) == ['grad_avg', 'momentum_buffer', 'square_avg', 'step']
    assert sorted(opt.state[ours[0].bias]) == ['square_avg', 'step']
    assert [opt.param_state_arrays(g) for g in opt.param_groups] == [1, 3]


def test_state_dicts_cross_over_mid_run():
    torch = require_torch()
    config = dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)
    check_state_dicts_cross_over(lambda model: RMSprop(groups(model, alpha=0.9), **config),
                                 lambda model: torch.optim.RMSprop(groups(model, alpha=0.9),
                                                                   **config))


def test_argument_checks():
    w = nn.Parameter(minidl.ones(2))
    for option in ('lr', 'eps', 'momentum', 'weight_decay', 'alpha'):
        with pytest.raises(ValueError, match='RMSprop: Invalid'):
            RMSprop([w], **{option: -0.5})
    with pytest.raises(ValueError, match='differentiable=True is not supported'):
        RMSprop([w], differentiable=True)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('config', [dict(), dict(centered=True), dict(momentum=0.9),
                                    dict(centered=True, momentum=0.9, weight_decay=0.1,
                                         maximize=True)],
                         ids=config_id)
def test_cuda_kernel_follows_the_generic_path(cp, monkeypatch, config, dtype):
    check_kernel_follows_generic_path(cp, monkeypatch,
                                      lambda params: RMSprop(params, lr=0.01, **config), dtype)
