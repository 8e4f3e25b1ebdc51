"""Adagrad: each parameter's step divided by the root of its summed squared gradients."""
from ..backend import cuda_kernel, cuda_kernels_enabled, get_array_module
from .optimizer import Optimizer, _gradient_copied, step_counter

__all__ = ['Adagrad', 'adagrad_update']


def adagrad_update(param, grad, state_sum, step, *, lr, lr_decay, eps, weight_decay,
                   maximize=False):
    """One Adagrad step of one parameter, in place on ``param`` and ``state_sum``;
    ``step`` is t, the number of this update (1 for the first). PyTorch's arithmetic:

        g = -g                                   (maximize)
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) lr_decay)
        G = G + g^2                              ('sum')
        p = p - clr g / (sqrt(G) + eps)
    """
    xp = get_array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum += grad * grad
    std = xp.sqrt(state_sum)
    std += eps
    param -= clr * grad / std


class Adagrad(Optimizer):
    """PyTorch's Adagrad, step for step (``adagrad_update`` has the arithmetic). For each
    parameter p with gradient g, at its t-th update:

        G = G + g^2                                   (the sum of squares, 'sum')
        p = p - lr / (1 + (t - 1) lr_decay) * g / (sqrt(G) + eps)

    Parameters with large past gradients take small steps and rarely-updated ones large
    steps; since G only grows, every step size shrinks over training (like lr/sqrt(t)
    for a steady gradient). ``initial_accumulator_value`` is G's starting value (as in
    PyTorch, the constructor's value for the parameters given to the constructor, even in
    a group that sets its own; a group added later starts from its own value);
    ``weight_decay`` adds weight_decay * p to g; ``maximize`` ascends. The state is
    created with the optimizer, as PyTorch does: per parameter 'step' (0-d float32,
    host) and 'sum' (an array like p). ``foreach`` is accepted and changes nothing;
    ``differentiable`` and ``fused`` must stay off. On a GPU a parameter's
    whole update is one kernel (adagrad_update_cuda, below) unless
    ``minidl.backend.use_cuda_kernels`` is off.

    Source: Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and
    Stochastic Optimization", JMLR 12 (2011), the diagonal version.

    Raises ValueError for a negative lr, lr_decay, weight_decay,
    initial_accumulator_value or eps.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        for option, value in (('learning rate', lr), ('lr_decay value', lr_decay),
                              ('weight_decay value', weight_decay),
                              ('initial_accumulator_value value', initial_accumulator_value),
                              ('epsilon value', eps)):
            if not 0.0 <= value:
                raise ValueError(f'Adagrad: Invalid {option}: {value}')
        super().__init__(params, dict(
            lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, foreach=foreach,
            maximize=maximize, differentiable=differentiable, fused=fused))
        for group in self.param_groups:     # PyTorch's quirk: the constructor's value for all
            for p in group['params']:
                self.state[p] = self._fresh_state(p, initial_accumulator_value)

    def param_state_arrays(self, group):
        """The sum of squared gradients."""
        return 1

    def update_scratch_arrays(self, group):
        """The denominator and the step; one more when the gradient is copied."""
        return 2 + _gradient_copied(group)

    def _initial_state(self, p, group):
        return self._fresh_state(p, group['initial_accumulator_value'])

    @staticmethod
    def _fresh_state(p, initial_accumulator_value):
        """'step' 0 and 'sum' an array like p filled with initial_accumulator_value."""
        xp = get_array_module(p.array)
        return {'step': step_counter(),
                'sum': xp.full_like(p.array, initial_accumulator_value)}

    def _update(self, p, grad, state, group):
        state['step'] += 1
        on_gpu = cuda_kernels_enabled(get_array_module(p.array), tested=False)
        update = adagrad_update_cuda if on_gpu else adagrad_update
        update(p.array, grad, state['sum'], float(state['step']), lr=group['lr'],
               lr_decay=group['lr_decay'], eps=group['eps'],
               weight_decay=group['weight_decay'], maximize=group['maximize'])


# ---------------------------------------------------------------- the same on a GPU

# adagrad_update for one element, in one pass (clr comes in computed).
_ADAGRAD_KERNEL = ('ElementwiseKernel', 'adagrad',
                   'T grad, T clr, T eps, T weight_decay, bool maximize', 'T param, T state_sum',
                   '''
T g = maximize ? -grad : grad;
if (weight_decay != 0) g = g + weight_decay * param;
state_sum = state_sum + g * g;
param = param - clr * g / (sqrt(state_sum) + eps);
''')


def adagrad_update_cuda(param, grad, state_sum, step, *, lr, lr_decay, eps, weight_decay,
                        maximize=False):
    """adagrad_update on CuPy arrays as one CUDA kernel (same arguments, same result)."""
    t = param.dtype.type
    cuda_kernel(*_ADAGRAD_KERNEL)(grad, t(lr / (1 + (step - 1) * lr_decay)), t(eps),
                                  t(weight_decay), bool(maximize), param, state_sum)
