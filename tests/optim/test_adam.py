"""Adam and AdamW: PyTorch's trajectory over every flag combination, state dicts both ways."""
import itertools

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from minidl.optim import Adam, AdamW
from tests.functional.kernels import cp  # noqa: F401 (a fixture)
from tests.optim.common import (check_kernel_follows_generic_path,
                                check_state_dicts_cross_over, config_id, follow_torch, groups)
from tests.parity import require_torch

# every combination of the flags, each with a weight decay or none; the second group
# always has its own lr, betas and eps
ADAM_CONFIGS = [dict(amsgrad=amsgrad, maximize=maximize, weight_decay=wd)
                for amsgrad, maximize, wd in itertools.product([False, True], [False, True],
                                                               [0, 0.1])]
SECOND_GROUP = dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('optimizer', [Adam, AdamW], ids=['Adam', 'AdamW'])
@pytest.mark.parametrize('config', ADAM_CONFIGS, ids=config_id)
def test_follows_torch_for_20_steps(optimizer, config, dtype):
    follow_torch(optimizer, dtype, SECOND_GROUP, lr=0.05, **config)


def test_two_groups_with_different_flags():
    second = dict(lr=0.01, amsgrad=True, maximize=False, weight_decay=0.3, betas=(0.5, 0.9))
    ours, opt = follow_torch(Adam, np.float64, second, lr=0.1, maximize=True, eps=1e-3)
    assert 'max_exp_avg_sq' in opt.state[ours[2].weight]
    assert 'max_exp_avg_sq' not in opt.state[ours[0].weight]


@pytest.mark.parametrize('optimizer, config', [(Adam, dict(amsgrad=True, weight_decay=0.05)),
                                               (AdamW, dict(betas=(0.7, 0.95)))],
                         ids=['Adam', 'AdamW'])
def test_state_dicts_cross_over_mid_run(optimizer, config):
    torch = require_torch()
    check_state_dicts_cross_over(
        lambda model: optimizer(groups(model, lr=0.02), lr=0.05, **config),
        lambda model: getattr(torch.optim, optimizer.__name__)(groups(model, lr=0.02), lr=0.05,
                                                               **config))


def test_adamw_is_adam_with_decoupled_decay():
    w = nn.Parameter(minidl.tensor(np.array([1.0, -2.0])))
    opt = AdamW([w])
    assert opt.defaults['weight_decay'] == 1e-2 and opt.defaults['decoupled_weight_decay']
    assert Adam([w]).param_state_arrays(Adam([w]).param_groups[0]) == 2
    assert Adam([w], amsgrad=True).state_bytes() == 3 * w.array.nbytes


def test_argument_checks():
    w = nn.Parameter(minidl.ones(2))
    with pytest.raises(ValueError, match='Invalid learning rate: -1'):
        Adam([w], lr=-1)
    with pytest.raises(ValueError, match='Invalid beta parameter at index 1: 1.0'):
        Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match='Invalid epsilon value'):
        AdamW([w], eps=-1e-8)
    with pytest.raises(ValueError, match='fused=True is not supported by minidl'):
        Adam([w], fused=True)
    with pytest.raises(ValueError, match='capturable=True is not supported'):
        Adam([{'params': [w], 'capturable': True}])


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('config', [dict(), dict(amsgrad=True, weight_decay=0.1, maximize=True),
                                    dict(decoupled_weight_decay=True, weight_decay=0.1)],
                         ids=config_id)
def test_cuda_kernel_follows_the_generic_path(cp, monkeypatch, config, dtype):
    check_kernel_follows_generic_path(cp, monkeypatch,
                                      lambda params: Adam(params, lr=0.05, **config), dtype)
