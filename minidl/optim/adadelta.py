"""Adadelta: steps whose size comes from running averages of past gradients and steps."""
from ..backend import cuda_kernel, cuda_kernels_enabled, get_array_module
from .optimizer import Optimizer, _gradient_copied, step_counter

__all__ = ['Adadelta', 'adadelta_update']


def adadelta_update(param, grad, square_avg, acc_delta, *, lr, rho, eps, weight_decay,
                    maximize=False):
    """One Adadelta step of one parameter, in place on ``param``, ``square_avg`` and
    ``acc_delta``. PyTorch's arithmetic, in its order:

        g = -g                                        (maximize)
        g = g + weight_decay * p
        E[g^2] = rho E[g^2] + (1 - rho) g^2           ('square_avg')
        dx = sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
        E[dx^2] = rho E[dx^2] + (1 - rho) dx^2        ('acc_delta')
        p = p - lr dx
    """
    xp = get_array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg *= rho
    square_avg += (1 - rho) * grad * grad
    rms_grad = xp.sqrt(square_avg + eps)
    delta = xp.sqrt(acc_delta + eps)
    delta /= rms_grad
    delta *= grad
    acc_delta *= rho
    acc_delta += (1 - rho) * delta * delta
    param -= lr * delta


class Adadelta(Optimizer):
    """PyTorch's Adadelta, step for step (``adadelta_update`` has the arithmetic). For
    each parameter p with gradient g:

        E[g^2]  = rho E[g^2] + (1 - rho) g^2                 ('square_avg')
        dx      = - RMS[dx] / RMS[g] * g,   RMS[u] = sqrt(E[u^2] + eps)
        E[dx^2] = rho E[dx^2] + (1 - rho) dx^2               ('acc_delta')
        p       = p + lr dx

    The ratio RMS[dx] / RMS[g] gives each step the units of p (Zeiler's argument), so
    the paper needs no learning rate; PyTorch keeps ``lr`` (default 1.0) as a scale.
    ``weight_decay`` adds weight_decay * p to g; ``maximize`` ascends. State per
    parameter, under PyTorch's keys: 'step' (0-d float32, host), 'square_avg' and
    'acc_delta' (arrays like p). ``foreach`` is accepted and changes nothing;
    ``capturable`` and ``differentiable`` must stay off. On a GPU a parameter's
    whole update is one kernel (adadelta_update_cuda, below) unless
    ``minidl.backend.use_cuda_kernels`` is off.

    Source: Zeiler, "ADADELTA: An Adaptive Learning Rate Method" (arXiv:1212.5701),
    Algorithm 1.

    Raises ValueError for a negative lr, eps or weight_decay, or rho outside [0, 1].
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f'Adadelta: Invalid learning rate: {lr}')
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f'Adadelta: Invalid rho value: {rho}')
        if not 0.0 <= eps:
            raise ValueError(f'Adadelta: Invalid epsilon value: {eps}')
        if not 0.0 <= weight_decay:
            raise ValueError(f'Adadelta: Invalid weight_decay value: {weight_decay}')
        super().__init__(params, dict(
            lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
            capturable=capturable, foreach=foreach, differentiable=differentiable))

    def param_state_arrays(self, group):
        """square_avg and acc_delta."""
        return 2

    def update_scratch_arrays(self, group):
        """RMS[g], the step and a product; one more when the gradient is copied."""
        return 3 + _gradient_copied(group)

    def _initial_state(self, p, group):
        xp = get_array_module(p.array)
        return {'step': step_counter(), 'square_avg': xp.zeros_like(p.array),
                'acc_delta': xp.zeros_like(p.array)}

    def _update(self, p, grad, state, group):
        state['step'] += 1
        on_gpu = cuda_kernels_enabled(get_array_module(p.array), tested=False)
        update = adadelta_update_cuda if on_gpu else adadelta_update
        update(p.array, grad, state['square_avg'], state['acc_delta'], lr=group['lr'],
               rho=group['rho'], eps=group['eps'], weight_decay=group['weight_decay'],
               maximize=group['maximize'])


# ---------------------------------------------------------------- the same on a GPU

# adadelta_update for one element, in one pass.
_ADADELTA_KERNEL = (
    'ElementwiseKernel', 'adadelta',
    'T grad, T lr, T rho, T one_minus_rho, T eps, T weight_decay, bool maximize',
    'T param, T square_avg, T acc_delta', '''
T g = maximize ? -grad : grad;
if (weight_decay != 0) g = g + weight_decay * param;
square_avg = square_avg * rho + one_minus_rho * g * g;
const T rms_grad = sqrt(square_avg + eps);
const T delta = sqrt(acc_delta + eps) / rms_grad * g;
acc_delta = acc_delta * rho + one_minus_rho * delta * delta;
param = param - lr * delta;
''')


def adadelta_update_cuda(param, grad, square_avg, acc_delta, *, lr, rho, eps, weight_decay,
                         maximize=False):
    """adadelta_update on CuPy arrays as one CUDA kernel (same arguments, same result)."""
    t = param.dtype.type
    cuda_kernel(*_ADADELTA_KERNEL)(grad, t(lr), t(rho), t(1 - rho), t(eps), t(weight_decay),
                                   bool(maximize), param, square_avg, acc_delta)
