"""Adadelta: PyTorch's trajectory over every flag combination, state dicts both ways."""
import itertools

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from minidl.optim import Adadelta
from tests.functional.kernels import cp  # noqa: F401 (a fixture)
from tests.optim.common import (check_kernel_follows_generic_path,
                                check_state_dicts_cross_over, config_id, follow_torch, groups)
from tests.parity import require_torch

CONFIGS = [dict(rho=rho, maximize=maximize, weight_decay=wd)
           for rho, maximize, wd in itertools.product([0.9, 0.5], [False, True], [0, 0.1])]
SECOND_GROUP = dict(lr=0.5, eps=1e-4)


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('config', CONFIGS, ids=config_id)
def test_follows_torch_for_20_steps(config, dtype):
    follow_torch(Adadelta, dtype, SECOND_GROUP, **config)


def test_state_dicts_cross_over_mid_run():
    torch = require_torch()
    config = dict(rho=0.8, weight_decay=0.01)
    check_state_dicts_cross_over(lambda model: Adadelta(groups(model, lr=0.3), **config),
                                 lambda model: torch.optim.Adadelta(groups(model, lr=0.3),
                                                                    **config))


def test_argument_checks():
    w = nn.Parameter(minidl.ones(2))
    with pytest.raises(ValueError, match='Adadelta: Invalid rho value: 1.5'):
        Adadelta([w], rho=1.5)
    with pytest.raises(ValueError, match='Adadelta: Invalid learning rate'):
        Adadelta([w], lr=-1)
    assert Adadelta([w]).state_bytes() == 2 * w.array.nbytes


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('config', [dict(), dict(rho=0.5, weight_decay=0.1, maximize=True)],
                         ids=config_id)
def test_cuda_kernel_follows_the_generic_path(cp, monkeypatch, config, dtype):
    check_kernel_follows_generic_path(cp, monkeypatch,
                                      lambda params: Adadelta(params, **config), dtype)
