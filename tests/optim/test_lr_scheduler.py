"""Learning-rate schedulers: PyTorch's learning rates for 30 epochs, state_dict, resuming."""
import math
import pickle

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from minidl.optim import SGD, lr_scheduler
from tests.parity import require_torch


def two_group_optimizers():
    torch = require_torch()
    ours = SGD([{'params': [nn.Parameter(minidl.ones(1))]},
                {'params': [nn.Parameter(minidl.ones(1))], 'lr': 0.3}], lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD([{'params': [torch.nn.Parameter(torch.ones(1))]},
                              {'params': [torch.nn.Parameter(torch.ones(1))], 'lr': 0.3}],
                             lr=0.1, momentum=0.9)
    return ours, theirs


class Warmup:
    """A callable object: its state is saved by LambdaLR.state_dict."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.epochs)


SCHEDULES = [('StepLR', dict(step_size=7, gamma=0.5)),
             ('StepLR', dict(step_size=1, gamma=0.9)),
             ('MultiStepLR', dict(milestones=[3, 10, 10, 25], gamma=0.3)),
             ('ExponentialLR', dict(gamma=0.93)),
             ('CosineAnnealingLR', dict(T_max=30)),
             ('CosineAnnealingLR', dict(T_max=8, eta_min=0.01)),
             ('LambdaLR', dict(lr_lambda=lambda e: 0.95 ** e)),
             ('LambdaLR', 'per-group')]


@pytest.mark.parametrize('name, kwargs', SCHEDULES)
def test_learning_rates_equal_torch_for_30_epochs(name, kwargs):
    torch = require_torch()
    ours, theirs = two_group_optimizers()
    if kwargs == 'per-group':
        kwargs = dict(lr_lambda=[lambda e: 1 / (1 + e), Warmup(5)])
    ours_sched = getattr(lr_scheduler, name)(ours, **kwargs)
    theirs_sched = getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs)
    for epoch in range(30):
        assert ours_sched.get_last_lr() == theirs_sched.get_last_lr(), f'epoch {epoch}'
        assert [g['lr'] for g in ours.param_groups] == [g['lr'] for g in theirs.param_groups]
        ours.step()
        theirs.step()
        ours_sched.step()
        theirs_sched.step()
    assert ours_sched.last_epoch == theirs_sched.last_epoch == 30


def test_cosine_resumed_from_a_checkpoint_matches_torch():
    torch = require_torch()
    ours, theirs = two_group_optimizers()
    for group in ours.param_groups + theirs.param_groups:
        group['initial_lr'] = group['lr']
    a = lr_scheduler.CosineAnnealingLR(ours, T_max=10, last_epoch=4)
    b = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=10, last_epoch=4)
    for _ in range(8):
        assert a.get_last_lr() == b.get_last_lr()
        ours.step()
        theirs.step()
        a.step()
        b.step()


def test_state_dict_round_trip_and_pickling():
    ours, _ = two_group_optimizers()
    sched = lr_scheduler.MultiStepLR(ours, milestones=[2, 4], gamma=0.1)
    for _ in range(3):
        sched.step()
    state = pickle.loads(pickle.dumps(sched.state_dict()))
    assert 'optimizer' not in state and state['last_epoch'] == 3
    fresh_opt, _ = two_group_optimizers()
    fresh_opt.load_state_dict(ours.state_dict())
    resumed = lr_scheduler.MultiStepLR(fresh_opt, milestones=[2, 4], gamma=0.1)
    resumed.load_state_dict(state)
    for _ in range(3):
        sched.step()
        resumed.step()
        assert resumed.get_last_lr() == sched.get_last_lr()
    assert sched.get_last_lr() == pytest.approx([0.001, 0.003])


def test_lambda_lr_saves_callable_objects_only():
    ours, _ = two_group_optimizers()
    warmup = Warmup(5)
    sched = lr_scheduler.LambdaLR(ours, [lambda e: 1.0, warmup])
    state = sched.state_dict()
    assert state['lr_lambdas'] == [None, {'epochs': 5}]
    warmup.epochs = 2
    sched.load_state_dict(state)
    assert warmup.epochs == 5
    with pytest.raises(ValueError, match='Expected 2 lr_lambdas, but got 1'):
        lr_scheduler.LambdaLR(ours, [lambda e: 1.0])


def test_step_with_epoch_uses_the_closed_form():
    ours, _ = two_group_optimizers()
    sched = lr_scheduler.StepLR(ours, step_size=3, gamma=0.5)
    with pytest.warns(UserWarning, match='deprecated'):
        sched.step(7)
    assert sched.get_last_lr() == pytest.approx([0.1 * 0.25, 0.3 * 0.25])
    cos = lr_scheduler.CosineAnnealingLR(two_group_optimizers()[0], T_max=10)
    with pytest.warns(UserWarning):
        cos.step(5)
    assert cos.get_last_lr()[0] == pytest.approx(0.05)
    assert math.isclose(cos.get_last_lr()[1], 0.15)


def test_scheduler_argument_checks():
    with pytest.raises(TypeError, match='is not an Optimizer'):
        lr_scheduler.StepLR(object(), step_size=2)
    ours, _ = two_group_optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(ours, step_size=2, last_epoch=3)
    assert np.isfinite(lr_scheduler.ExponentialLR(ours, 0.5).get_last_lr()).all()
