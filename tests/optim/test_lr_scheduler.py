"""Learning-rate schedulers: PyTorch's learning rates for 30 epochs, state_dict, resuming."""
import math
import pickle

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from minidl.optim import SGD, lr_scheduler
from tests.optim.common import config_id, to_torch_state_dict
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


# ---------------------------------------------------------------- the newer schedules, 50 steps

def twin_optimizers(name='SGD', **options):
    """Our optimizer and torch's, each with two one-parameter groups (lr 0.1 and 0.3)."""
    torch = require_torch()
    options = options or dict(momentum=0.9)
    ours = getattr(minidl.optim, name)([{'params': [nn.Parameter(minidl.ones(1))]},
                                        {'params': [nn.Parameter(minidl.ones(1))], 'lr': 0.3}],
                                       lr=0.1, **options)
    weights = [torch.nn.Parameter(torch.ones(1)) for _ in range(2)]
    theirs = getattr(torch.optim, name)([{'params': [weights[0]]},
                                         {'params': [weights[1]], 'lr': 0.3}], lr=0.1, **options)
    return ours, theirs


def sequential(S, opt, three=False):
    """A warm-up then a cosine (or a warm-up, an exponential decay and steps)."""
    if three:
        return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.2, total_iters=5),
                                    S.ExponentialLR(opt, gamma=0.9),
                                    S.StepLR(opt, step_size=4, gamma=0.5)], milestones=[5, 20])
    return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.01, total_iters=8),
                                S.CosineAnnealingLR(opt, T_max=42, eta_min=1e-3)], milestones=[8])


# name: (optimizer and its options, the schedule built from a lr_scheduler module)
NEW_SCHEDULES = {
    'LinearLR-warmup': (('SGD', {}), lambda S, opt: S.LinearLR(opt)),
    'LinearLR-decay': (('SGD', {}), lambda S, opt: S.LinearLR(opt, start_factor=1.0,
                                                              end_factor=0.05, total_iters=30)),
    'SequentialLR': (('SGD', {}), sequential),
    'SequentialLR-three': (('SGD', {}), lambda S, opt: sequential(S, opt, three=True)),
    'WarmRestarts': (('SGD', {}), lambda S, opt: S.CosineAnnealingWarmRestarts(opt, T_0=7)),
    'WarmRestarts-Tmult': (('SGD', {}), lambda S, opt: S.CosineAnnealingWarmRestarts(
        opt, T_0=3, T_mult=2, eta_min=0.01)),
    'OneCycleLR-SGD': (('SGD', {}), lambda S, opt: S.OneCycleLR(opt, max_lr=[1.0, 2.0],
                                                                total_steps=50)),
    'OneCycleLR-Adam-three-phase-linear': (
        ('Adam', dict(betas=(0.9, 0.99))), lambda S, opt: S.OneCycleLR(
            opt, max_lr=0.01, epochs=5, steps_per_epoch=10, pct_start=0.25,
            anneal_strategy='linear', three_phase=True, base_momentum=0.8,
            max_momentum=[0.9, 0.95])),
    'OneCycleLR-Adagrad-no-momentum': (
        ('Adagrad', dict(lr_decay=0.01)), lambda S, opt: S.OneCycleLR(
            opt, max_lr=0.5, total_steps=60, cycle_momentum=False, div_factor=10.0,
            final_div_factor=100.0)),
}


def _same_options(ours, theirs):
    """Every group's lr and the options the schedules move (momentum, betas) agree."""
    for mine, ref in zip(ours.param_groups, theirs.param_groups):
        assert mine['lr'] == ref['lr']
        for key in ('momentum', 'betas'):
            if key in ref:
                assert tuple(np.atleast_1d(mine[key])) == tuple(np.atleast_1d(ref[key])), key


def _state_keys(state):
    """A scheduler state dict's keys, nested schedulers' too, less torch's own flag."""
    keys = set(state) - {'_get_lr_called_within_step'}
    nested = [_state_keys(s) for s in state.get('_schedulers', [])]
    return keys, nested


def _step_both(pairs, steps):
    for ours_opt, theirs_opt, ours_sched, theirs_sched in pairs:
        for _ in range(steps):
            ours_opt.step()
            theirs_opt.step()
            ours_sched.step()
            theirs_sched.step()
            assert ours_sched.get_last_lr() == theirs_sched.get_last_lr()
            _same_options(ours_opt, theirs_opt)
        assert ours_sched.last_epoch == theirs_sched.last_epoch


@pytest.mark.parametrize('name', sorted(NEW_SCHEDULES))
def test_new_schedules_equal_torch_for_50_steps(name):
    torch = require_torch()
    (optimizer, options), build = NEW_SCHEDULES[name]
    ours, theirs = twin_optimizers(optimizer, **options)
    a, b = build(lr_scheduler, ours), build(torch.optim.lr_scheduler, theirs)
    assert a.get_last_lr() == b.get_last_lr()
    _same_options(ours, theirs)
    _step_both([(ours, theirs, a, b)], 50)
    assert _state_keys(a.state_dict()) == _state_keys(b.state_dict())


@pytest.mark.parametrize('name', sorted(NEW_SCHEDULES))
def test_new_schedules_state_dicts_cross_over_mid_run(name):
    """After 20 steps each library resumes from the other's optimizer and scheduler state
    (scheduler built first, then both state dicts loaded, as PyTorch advises); the four
    go on for 30 steps and the resumed ones keep the other library's learning rates."""
    torch = require_torch()
    (optimizer, options), build = NEW_SCHEDULES[name]
    ours, theirs = twin_optimizers(optimizer, **options)
    a, b = build(lr_scheduler, ours), build(torch.optim.lr_scheduler, theirs)
    _step_both([(ours, theirs, a, b)], 20)
    ours2, theirs2 = twin_optimizers(optimizer, **options)
    a2, b2 = build(lr_scheduler, ours2), build(torch.optim.lr_scheduler, theirs2)
    ours2.load_state_dict(theirs.state_dict())
    a2.load_state_dict(b.state_dict())
    theirs2.load_state_dict(to_torch_state_dict(ours.state_dict()))
    b2.load_state_dict(a.state_dict())
    _step_both([(ours, theirs2, a, b2), (ours2, theirs, a2, b)], 30)


def plateau_metrics(seed, mode):
    """50 validation losses: progress, small gains (0.2%, below a 1% threshold), plateaus
    and setbacks; negated for mode 'max'."""
    rng = np.random.default_rng(seed)
    moves = rng.choice([-0.05, -0.002, 0.0, 0.0, 0.01], size=50, p=[0.2, 0.2, 0.25, 0.2, 0.15])
    values = [float(v) for v in 1.0 * np.cumprod(1 + moves)]
    return values if mode == 'min' else [-v for v in values]


PLATEAU_CONFIGS = [dict(), dict(patience=2), dict(patience=0, factor=0.5),
                   dict(patience=1, cooldown=3, factor=0.5),
                   dict(patience=2, threshold=1e-2, threshold_mode='rel'),
                   dict(patience=2, threshold=1e-3, threshold_mode='abs', cooldown=1),
                   dict(mode='max', patience=1, threshold=5e-3),
                   dict(mode='max', patience=1, threshold=1e-3, threshold_mode='abs', cooldown=2),
                   dict(patience=0, factor=0.5, min_lr=[0.02, 0.01], eps=1e-3),
                   dict(patience=0, factor=0.3, min_lr=0.02)]


@pytest.mark.parametrize('config', PLATEAU_CONFIGS,
                         ids=lambda c: config_id(c) or 'defaults')
def test_reduce_on_plateau_equals_torch_for_50_epochs(config):
    torch = require_torch()
    ours, theirs = twin_optimizers()
    a = lr_scheduler.ReduceLROnPlateau(ours, **config)
    b = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **config)
    lrs_seen, cooled_down = set(), False
    for epoch, metric in enumerate(plateau_metrics(len(str(config)), config.get('mode', 'min'))):
        a.step(metric)
        b.step(metric)
        assert a.get_last_lr() == b.get_last_lr(), f'epoch {epoch}'
        assert (a.best, a.num_bad_epochs, a.cooldown_counter) == \
            (b.best, b.num_bad_epochs, b.cooldown_counter), f'epoch {epoch}'
        lrs_seen.add(a.get_last_lr()[0])
        cooled_down |= a.in_cooldown
        if epoch == 25:                       # cross over: each resumes from the other's state
            fresh_ours, fresh_theirs = twin_optimizers()
            a2 = lr_scheduler.ReduceLROnPlateau(fresh_ours, **config)
            b2 = torch.optim.lr_scheduler.ReduceLROnPlateau(fresh_theirs, **config)
            fresh_ours.load_state_dict(theirs.state_dict())
            fresh_theirs.load_state_dict(to_torch_state_dict(ours.state_dict()))
            a2.load_state_dict(b.state_dict())
            b2.load_state_dict(a.state_dict())
            assert set(a.state_dict()) == set(b.state_dict())
            (ours, theirs), (a, b) = (fresh_ours, fresh_theirs), (a2, b2)
    assert a.last_epoch == b.last_epoch == 50
    assert len(lrs_seen) >= 2, 'the metrics never triggered a reduction: the test proves nothing'
    assert cooled_down == bool(config.get('cooldown'))


def test_new_schedule_argument_checks():
    ours, _ = twin_optimizers()
    with pytest.raises(ValueError, match='Starting multiplicative factor'):
        lr_scheduler.LinearLR(ours, start_factor=0)
    with pytest.raises(ValueError, match='positive integer T_0'):
        lr_scheduler.CosineAnnealingWarmRestarts(ours, T_0=0)
    with pytest.raises(ValueError, match='total_steps OR'):
        lr_scheduler.OneCycleLR(ours, max_lr=1.0)
    with pytest.raises(ValueError, match='Tried to step 3 times'):
        schedule = lr_scheduler.OneCycleLR(ours, max_lr=1.0, total_steps=2)
        for _ in range(3):
            schedule.step()
    adagrad = minidl.optim.Adagrad([nn.Parameter(minidl.ones(1))])
    with pytest.raises(ValueError, match='momentum or beta1'):
        lr_scheduler.OneCycleLR(adagrad, max_lr=1.0, total_steps=5)
    with pytest.raises(ValueError, match='does not support `ReduceLROnPlateau`'):
        lr_scheduler.SequentialLR(ours, [lr_scheduler.ReduceLROnPlateau(ours)], milestones=[])
    with pytest.raises(ValueError, match='number of milestone points'):
        lr_scheduler.SequentialLR(ours, [lr_scheduler.LinearLR(ours)], milestones=[3])
    with pytest.raises(ValueError, match='Factor should be < 1.0'):
        lr_scheduler.ReduceLROnPlateau(ours, factor=1.0)
    with pytest.raises(ValueError, match='mode avg is unknown'):
        lr_scheduler.ReduceLROnPlateau(ours, mode='avg')
    with pytest.raises(ValueError, match='expected 2 min_lrs, got 3'):
        lr_scheduler.ReduceLROnPlateau(ours, min_lr=[0, 0, 0])


def test_warm_restarts_fractional_epochs_equal_torch():
    """step(epoch + i / iters) per batch, as PyTorch's docstring shows, then step()."""
    torch = require_torch()
    ours, theirs = twin_optimizers()
    a = lr_scheduler.CosineAnnealingWarmRestarts(ours, T_0=2, T_mult=2, eta_min=0.001)
    b = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(theirs, T_0=2, T_mult=2,
                                                             eta_min=0.001)
    for epoch in range(9):
        for i in range(5):
            a.step(epoch + i / 5)
            b.step(epoch + i / 5)
            assert a.get_last_lr() == b.get_last_lr() and (a.T_cur, a.T_i) == (b.T_cur, b.T_i)
    for _ in range(6):
        a.step()
        b.step()
        assert a.get_last_lr() == b.get_last_lr()
