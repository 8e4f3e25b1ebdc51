"""Adagrad: PyTorch's trajectory over every flag combination, state dicts both ways."""
import itertools

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from minidl.backend import to_device
from minidl.optim import Adagrad
from tests.functional.kernels import cp  # noqa: F401 (a fixture)
from tests.optim.common import (check_kernel_follows_generic_path,
                                check_state_dicts_cross_over, config_id, follow_torch, groups,
                                make_twins, train_side_by_side)
from tests.parity import require_torch

CONFIGS = [dict(lr_decay=decay, initial_accumulator_value=initial, maximize=maximize,
                weight_decay=wd)
           for decay, initial, maximize, wd in itertools.product(
               [0, 0.1], [0, 0.5], [False, True], [0, 0.1])]
SECOND_GROUP = dict(lr=0.05, eps=1e-6, lr_decay=0.3)


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('config', CONFIGS, ids=config_id)
def test_follows_torch_for_20_steps(config, dtype):
    follow_torch(Adagrad, dtype, SECOND_GROUP, lr=0.1, **config)


def test_state_exists_from_the_start_as_in_torch():
    torch = require_torch()
    ours, theirs = make_twins(np.float32)
    # a group's own initial_accumulator_value is not used (PyTorch's behaviour)
    opt = Adagrad(groups(ours, initial_accumulator_value=9.0), initial_accumulator_value=0.25)
    ref = torch.optim.Adagrad(groups(theirs, initial_accumulator_value=9.0),
                              initial_accumulator_value=0.25)
    assert sorted(opt.state_dict()['state']) == sorted(ref.state_dict()['state']) == [0, 1, 2, 3]
    for p in ours.parameters():
        np.testing.assert_array_equal(to_device(opt.state[p]['sum'], 'cpu'), 0.25)
    train_side_by_side(ours, theirs, opt, ref, 20, np.float32)


def test_state_dicts_cross_over_mid_run():
    torch = require_torch()
    config = dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1, weight_decay=0.01)
    check_state_dicts_cross_over(lambda model: Adagrad(groups(model, lr=0.3), **config),
                                 lambda model: torch.optim.Adagrad(groups(model, lr=0.3),
                                                                   **config))


def test_argument_checks():
    w = nn.Parameter(minidl.ones(2))
    for option in ('lr', 'lr_decay', 'weight_decay', 'initial_accumulator_value', 'eps'):
        with pytest.raises(ValueError, match='Adagrad: Invalid'):
            Adagrad([w], **{option: -0.5})
    assert Adagrad([w]).state_bytes() == w.array.nbytes


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('config', [dict(), dict(lr_decay=0.1, initial_accumulator_value=0.5,
                                                 weight_decay=0.1, maximize=True)],
                         ids=config_id)
def test_cuda_kernel_follows_the_generic_path(cp, monkeypatch, config, dtype):
    check_kernel_follows_generic_path(cp, monkeypatch,
                                      lambda params: Adagrad(params, lr=0.1, **config), dtype)
