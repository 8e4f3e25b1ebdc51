"""Learning-rate schedules, with PyTorch's formulas so the numbers match.

A scheduler sets every group's ``'lr'`` at each ``step()`` (call it once per epoch,
after ``optimizer.step()``; OneCycleLR once per batch; ReduceLROnPlateau as
``step(validation_loss)``). Like PyTorch's, most schedules are computed recursively
from the current lr (``StepLR`` multiplies by gamma at each boundary), so another
scheduler or the user may change the lr in between; ``step(epoch)`` (deprecated in
PyTorch) uses the closed form instead. ``state_dict()`` holds the scheduler's
attributes under PyTorch's names, so a state dict moves between the two libraries.
"""
import math
import types
import warnings
from bisect import bisect_right
from collections import Counter

from .optimizer import Optimizer

__all__ = ['LRScheduler', 'StepLR', 'MultiStepLR', 'ExponentialLR', 'CosineAnnealingLR',
           'LambdaLR', 'LinearLR', 'SequentialLR', 'CosineAnnealingWarmRestarts', 'OneCycleLR',
           'ReduceLROnPlateau']

EPOCH_DEPRECATION_WARNING = ('The epoch parameter in `scheduler.step()` is deprecated (as in '
                             'PyTorch); call step() once per epoch instead')


class LRScheduler:
    """Base class: ``last_epoch`` counts the steps (-1 before the first); the constructor
    takes the first step, which sets each group's lr to its ``initial_lr``."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f'{type(optimizer).__name__} is not an Optimizer')
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault('initial_lr', group['lr'])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if 'initial_lr' not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   f"when resuming a scheduler with last_epoch >= 0 (load the "
                                   f"optimizer's state_dict first)")
        self.base_lrs = [group['initial_lr'] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        """The constructor's step (also SequentialLR's, when a schedule takes over)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        """The lr of every group at ``last_epoch``, from the current ones."""
        raise NotImplementedError(f'{type(self).__name__} must define get_lr()')

    def get_last_lr(self):
        """The lr of every group set by the latest ``step()``."""
        return list(self._last_lr)

    def step(self, epoch=None):
        """Advance one epoch (or batch, for the schedules stepped per batch) and set every
        group's lr; ``step(epoch)`` jumps to ``epoch`` (deprecated, as in PyTorch)."""
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        """Set the lrs for the next epoch, or for ``epoch`` from the closed form when the
        schedule has one."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, '_get_closed_form_lr', None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group['lr'] = lr
        self._last_lr = [group['lr'] for group in self.optimizer.param_groups]

    def state_dict(self):
        """Every attribute but the optimizer (PyTorch's format)."""
        return {key: value for key, value in self.__dict__.items() if key != 'optimizer'}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


_LRScheduler = LRScheduler  # PyTorch's older name


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch); one function, or a list with one per group."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f'LambdaLR: Expected {n} lr_lambdas, but got {len(lr_lambda)}')
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * fn(self.last_epoch) for base, fn in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self):
        """As the base, with ``lr_lambdas`` saved only for callable objects (their
        ``__dict__``); plain functions and lambdas cannot be saved and are None."""
        state = {k: v for k, v in self.__dict__.items() if k not in ('optimizer', 'lr_lambdas')}
        state['lr_lambdas'] = [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved = state_dict.pop('lr_lambdas')
        self.__dict__.update(state_dict)
        for fn, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(attributes)


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group['lr'] for group in self.optimizer.param_groups]
        return [group['lr'] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr multiplied by gamma at each milestone epoch (a milestone given twice counts twice)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones, self.gamma = Counter(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return [group['lr'] for group in self.optimizer.param_groups]
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group['lr'] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = initial_lr * gamma ** epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return [group['lr'] for group in self.optimizer.param_groups]
        return [group['lr'] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr follows half a cosine from initial_lr down to eta_min over T_max epochs:

        lr(t) = eta_min + (initial_lr - eta_min) (1 + cos(pi t / T_max)) / 2

    computed, as PyTorch does, recursively from lr(t - 1) (so the values agree to the
    last bit), and rising again after T_max (a cosine, not a restart)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [group['lr'] for group in groups]
        if self._step_count == 1 and self.last_epoch > 0:   # resumed: closed form once
            return [self.eta_min + (base - self.eta_min)
                    * (1 + math.cos(self.last_epoch * math.pi / self.T_max)) / 2
                    for base in self.base_lrs]
        if (self.last_epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            return [group['lr'] + (base - self.eta_min) * (1 - math.cos(math.pi / self.T_max)) / 2
                    for base, group in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * self.last_epoch / self.T_max))
                / (1 + math.cos(math.pi * (self.last_epoch - 1) / self.T_max))
                * (group['lr'] - self.eta_min) + self.eta_min for group in groups]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """lr = initial_lr * factor(epoch), the factor moving linearly from ``start_factor``
    at epoch 0 to ``end_factor`` at epoch ``total_iters`` and staying there (a warm-up
    with the defaults, a linear decay with end_factor < start_factor):

        factor(t) = start_factor + (end_factor - start_factor) min(t, total_iters) / total_iters

    computed, as PyTorch does, recursively: lr(t) = lr(t - 1) factor(t) / factor(t - 1).

    Raises ValueError unless 0 < start_factor <= 1 and 0 <= end_factor <= 1.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(f'LinearLR: Starting multiplicative factor expected to be greater '
                             f'than 0 and less or equal to 1, got {start_factor}')
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError(f'LinearLR: Ending multiplicative factor expected to be between 0 '
                             f'and 1, got {end_factor}')
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group['lr'] * self.start_factor for group in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return [group['lr'] for group in groups]
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor
                                + (self.last_epoch - 1) * change)
        return [group['lr'] * ratio for group in groups]

    def _get_closed_form_lr(self):
        return [base * (self.start_factor + (self.end_factor - self.start_factor)
                        * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another: the first until epoch ``milestones[0]``, the
    second from there (restarted at its epoch 0) until ``milestones[1]``, and so on. A
    warm-up then a decay: ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5),
    CosineAnnealingLR(opt, T_max=45)], milestones=[5])``.

    Construction undoes the first step the given schedulers took and restarts from each
    group's initial_lr, as PyTorch does. Raises ValueError for no schedulers, a
    ReduceLROnPlateau among them (it needs a metric), schedulers of another optimizer,
    or a number of milestones other than len(schedulers) - 1.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        if len(schedulers) < 1:
            raise ValueError('SequentialLR expects at least one scheduler, but got no scheduler.')
        for index, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, 'optimizer'):
                raise TypeError(f'SequentialLR: the scheduler at index {index} should have '
                                f'`optimizer` as its attribute.')
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f'SequentialLR does not support `ReduceLROnPlateau` scheduler '
                                 f'as it requires additional kwargs to be specified when '
                                 f'calling `step`, but got one at index {index} in the given '
                                 f'schedulers sequence.')
            if scheduler.optimizer is not optimizer:
                raise ValueError(f'SequentialLR expects all schedulers to belong to the same '
                                 f'optimizer, but got scheduler {type(scheduler).__name__} at '
                                 f'index {index} with another optimizer.')
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f'Sequential Schedulers expects number of schedulers provided to be '
                             f'one more than the number of milestone points, but got number of '
                             f'schedulers {len(schedulers)} and the number of milestones to be '
                             f'equal to {len(milestones)}')
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group['lr'] = group['initial_lr']
        self.recursive_undo()
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def recursive_undo(self, sched=None):
        """Take back the step every scheduler (and nested SequentialLR) took when built."""
        scheds = self if sched is None else sched
        if hasattr(scheds, '_schedulers'):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, 'last_epoch'):
            scheds.last_epoch -= 1

    def step(self):
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)          # the next schedule starts at its epoch 0
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        """As the base, with each scheduler's state dict under '_schedulers'."""
        state = {k: v for k, v in self.__dict__.items() if k not in ('optimizer', '_schedulers')}
        state['_schedulers'] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved = state_dict.pop('_schedulers')
        self.__dict__.update(state_dict)
        for scheduler, state in zip(self._schedulers, saved):
            scheduler.load_state_dict(state)


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from initial_lr down to eta_min over T_i epochs, then a restart at
    initial_lr with T_i multiplied by T_mult (SGDR):

        lr = eta_min + (initial_lr - eta_min) (1 + cos(pi T_cur / T_i)) / 2

    with T_cur the epochs since the last restart and T_0 the first cycle's length.
    ``step()`` advances one epoch; ``step(epoch)`` takes fractional epochs (call it per
    batch with ``epoch + i / iters``) without a deprecation warning, as in PyTorch.

    Source: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
    ICLR 2017 (arXiv:1608.03983), eq. 5.

    Raises ValueError unless T_0 is a positive int, T_mult an int >= 1 and eta_min a number.
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        if not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f'CosineAnnealingWarmRestarts: Expected positive integer T_0, but '
                             f'got {T_0}')
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f'CosineAnnealingWarmRestarts: Expected integer T_mult >= 1, but '
                             f'got {T_mult}')
        if not isinstance(eta_min, (float, int)):
            raise ValueError(f'CosineAnnealingWarmRestarts: Expected float or int eta_min, but '
                             f'got {eta_min} of type {type(eta_min)}')
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        cosine = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base - self.eta_min) * cosine / 2 for base in self.base_lrs]

    def step(self, epoch=None):
        """One epoch on, or to ``epoch`` (a float is fine: a fraction of the way through)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        elif epoch < 0:
            raise ValueError(f'CosineAnnealingWarmRestarts: Expected non-negative epoch, but '
                             f'got {epoch}')
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:   # n full cycles fit: T_0 (T_mult^n - 1) / (T_mult - 1) <= epoch
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult ** n
        else:
            self.T_i = self.T_0
            self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group['lr'] = lr
        self._last_lr = [group['lr'] for group in self.optimizer.param_groups]


def _per_group(name, optimizer, value):
    """One value per parameter group: a list or tuple of that length, or one value for all."""
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(f'{name} must have the same length as optimizer.param_groups. '
                             f'{name} has {len(value)} values, param_groups has {groups}.')
        return list(value)
    return [value] * groups


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped after every batch: the lr rises from
    max_lr / div_factor to ``max_lr`` over the first ``pct_start`` of the
    ``total_steps`` (or ``epochs * steps_per_epoch``), then falls to
    initial_lr / final_div_factor; each phase anneals by a half cosine

        lr = end + (start - end) (1 + cos(pi pct)) / 2,   pct in [0, 1] through the phase

    (or linearly, ``anneal_strategy='linear'``). ``three_phase``: up, back down to the
    initial lr symmetrically, then down to the minimum (the paper's schedule). With
    ``cycle_momentum`` the momentum (SGD, RMSprop) or beta1 (Adam) moves the opposite
    way, from ``max_momentum`` to ``base_momentum`` and back. The groups get the keys
    'initial_lr', 'max_lr', 'min_lr' (and 'max_momentum', 'base_momentum'), as in PyTorch.

    Source: Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks
    Using Large Learning Rates" (arXiv:1708.07120); the two-phase default follows fastai.

    Raises ValueError for a missing or non-positive total_steps (or epochs and
    steps_per_epoch), pct_start outside [0, 1], an unknown anneal_strategy, cycle_momentum
    with an optimizer that has neither momentum nor betas, or stepping past total_steps.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy='cos', cycle_momentum=True,
                 base_momentum=0.85, max_momentum=0.95, div_factor=25.0, final_div_factor=1e4,
                 three_phase=False, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f'{type(optimizer).__name__} is not an Optimizer')
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f'OneCycleLR: Expected positive integer total_steps, but got '
                                 f'{total_steps}')
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            for option, value in (('epochs', epochs), ('steps_per_epoch', steps_per_epoch)):
                if not isinstance(value, int) or value <= 0:
                    raise ValueError(f'OneCycleLR: Expected positive integer {option}, but got '
                                     f'{value}')
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError('OneCycleLR: You must define either total_steps OR (epochs AND '
                             'steps_per_epoch)')
        up_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                _phase(up_end, 'initial_lr', 'max_lr', 'max_momentum', 'base_momentum'),
                _phase(float(2 * pct_start * self.total_steps) - 2, 'max_lr', 'initial_lr',
                       'base_momentum', 'max_momentum'),
                _phase(self.total_steps - 1, 'initial_lr', 'min_lr', 'max_momentum',
                       'max_momentum')]
        else:
            self._schedule_phases = [
                _phase(up_end, 'initial_lr', 'max_lr', 'max_momentum', 'base_momentum'),
                _phase(self.total_steps - 1, 'max_lr', 'min_lr', 'base_momentum',
                       'max_momentum')]
        if not isinstance(pct_start, float) or pct_start < 0 or pct_start > 1:
            raise ValueError(f'OneCycleLR: Expected float between 0 and 1 pct_start, but got '
                             f'{pct_start}')
        if anneal_strategy not in ('cos', 'linear'):
            raise ValueError(f"OneCycleLR: anneal_strategy must be one of 'cos' or 'linear', "
                             f"instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy
        max_lrs = _per_group('max_lr', optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group['initial_lr'] = top / div_factor
                group['max_lr'] = top
                group['min_lr'] = group['initial_lr'] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if 'momentum' not in optimizer.defaults and 'betas' not in optimizer.defaults:
                raise ValueError(f'OneCycleLR: optimizer must support momentum or beta1 with '
                                 f'`cycle_momentum` option enabled ({type(optimizer).__name__} '
                                 f'has neither; pass cycle_momentum=False)')
            self.use_beta1 = 'betas' in optimizer.defaults
            max_momentums = _per_group('max_momentum', optimizer, max_momentum)
            base_momentums = _per_group('base_momentum', optimizer, base_momentum)
            if last_epoch == -1:
                for top, bottom, group in zip(max_momentums, base_momentums,
                                              optimizer.param_groups):
                    self._set_momentum(group, top)
                    group['max_momentum'], group['base_momentum'] = top, bottom
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group['betas'] = (value, *group['betas'][1:])
        else:
            group['momentum'] = value

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == 'cos':
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f'OneCycleLR: Tried to step {step} times. The specified number of '
                             f'total steps is {self.total_steps}')
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase['end_step']
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase['start_lr']], group[phase['end_lr']], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[phase['start_momentum']],
                                                               group[phase['end_momentum']], pct))
                    break
                start_step = phase['end_step']
        return lrs


def _phase(end_step, start_lr, end_lr, start_momentum, end_momentum):
    """One phase of OneCycleLR: the step it ends at, and the group keys it anneals between."""
    return {'end_step': end_step, 'start_lr': start_lr, 'end_lr': end_lr,
            'start_momentum': start_momentum, 'end_momentum': end_momentum}


class ReduceLROnPlateau(LRScheduler):
    """Multiply every group's lr by ``factor`` when a metric has stopped improving:
    ``step(metric)`` once per epoch (after validation).

    A value is an improvement when it beats the best so far by the threshold:

        mode 'min', threshold_mode 'rel':  value < best (1 - threshold)
        mode 'min', threshold_mode 'abs':  value < best - threshold
        mode 'max': value > best (1 + threshold)  or  value > best + threshold

    Epochs without improvement are counted; when there have been more than ``patience``
    of them the lr drops (not below ``min_lr``, one value or one per group, and not by
    less than ``eps``), the count restarts and for ``cooldown`` epochs bad epochs are not
    counted. The state dict is PyTorch's (``best``, ``num_bad_epochs``,
    ``cooldown_counter``, ...).

    Raises ValueError for factor >= 1, an unknown mode or threshold_mode, or a min_lr
    list whose length is not the number of groups.
    """

    def __init__(self, optimizer, mode='min', factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError(f'ReduceLROnPlateau: Factor should be < 1.0, got {factor}')
        self.factor = factor
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f'{type(optimizer).__name__} is not an Optimizer')
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f'ReduceLROnPlateau: expected {len(optimizer.param_groups)} '
                                 f'min_lrs, got {len(min_lr)}')
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.last_epoch = 0
        self._last_lr = [group['lr'] for group in optimizer.param_groups]
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics, epoch=None):
        """Record this epoch's ``metrics`` (a number or a 0-d tensor) and reduce the lr when
        the patience has run out."""
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0          # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group['lr'] for group in self.optimizer.param_groups]

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f'ReduceLROnPlateau: the optimizer has {len(groups)} param '
                                   f'groups but {len(self.min_lrs)} min_lrs were given (a group '
                                   f'was added); set `min_lrs` to one value per group')
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group['lr'])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group['lr'] = new_lr

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, value, best):
        if self.mode == 'min' and self.threshold_mode == 'rel':
            return value < best * (1.0 - self.threshold)
        if self.mode == 'min':
            return value < best - self.threshold
        if self.threshold_mode == 'rel':
            return value > best * (self.threshold + 1.0)
        return value > best + self.threshold

    def _init_is_better(self, mode, threshold, threshold_mode):
        if mode not in ('min', 'max'):
            raise ValueError(f'ReduceLROnPlateau: mode {mode} is unknown!')
        if threshold_mode not in ('rel', 'abs'):
            raise ValueError(f'ReduceLROnPlateau: threshold mode {threshold_mode} is unknown!')
        self.mode_worse = math.inf if mode == 'min' else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
