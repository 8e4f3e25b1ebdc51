"""RMSprop: the gradient divided by a running root mean square of recent gradients."""
from ..backend import cuda_kernel, cuda_kernels_enabled, get_array_module
from .optimizer import Optimizer, _gradient_copied, step_counter

__all__ = ['RMSprop', 'rmsprop_update']


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
                   weight_decay, momentum, maximize=False):
    """One RMSprop step of one parameter, in place on ``param`` and its state arrays
    (``grad_avg`` is None unless centered, ``momentum_buffer`` None without momentum).
    PyTorch's arithmetic, in its order:

        g = -g                                       (maximize)
        g = g + weight_decay * p
        s = alpha s + (1 - alpha) g^2                ('square_avg')
        a = a + (1 - alpha) (g - a)                  ('grad_avg', centered only)
        d = sqrt(s - a^2) + eps   (centered)   or    d = sqrt(s) + eps
        b = momentum b + g / d;  p = p - lr b        (momentum > 0)   or
        p = p - lr g / d
    """
    xp = get_array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg *= alpha
    square_avg += (1 - alpha) * grad * grad
    if grad_avg is not None:
        grad_avg += (1 - alpha) * (grad - grad_avg)
        avg = xp.sqrt(square_avg - grad_avg * grad_avg)
    else:
        avg = xp.sqrt(square_avg)
    avg += eps
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += grad / avg
        param -= lr * momentum_buffer
    else:
        param -= lr * grad / avg


class RMSprop(Optimizer):
    """PyTorch's RMSprop, step for step (``rmsprop_update`` has the arithmetic). For each
    parameter p with gradient g:

        s = alpha s + (1 - alpha) g^2                  (running mean square, 'square_avg')
        p = p - lr g / (sqrt(s) + eps)

    so each parameter's step is its gradient divided by that gradient's recent RMS.
    ``centered``: also keep the running mean a of g ('grad_avg') and divide by
    sqrt(s - a^2) + eps, an estimate of the gradient's standard deviation.
    ``momentum`` > 0: accumulate b = momentum b + g / (...) ('momentum_buffer') and take
    p = p - lr b. ``weight_decay`` adds weight_decay * p to g; ``maximize`` ascends.
    State per parameter, under PyTorch's keys: 'step' (0-d float32, host), 'square_avg',
    and 'momentum_buffer', 'grad_avg' when used. ``foreach`` is accepted and changes
    nothing; ``capturable`` and ``differentiable`` must stay off. On a GPU a parameter's
    whole update is one kernel (rmsprop_update_cuda, below) unless
    ``minidl.backend.use_cuda_kernels`` is off.

    Sources: Tieleman & Hinton, "Neural Networks for Machine Learning", Coursera lecture
    6.5 (2012) for RMSprop; Graves, "Generating Sequences With Recurrent Neural
    Networks" (arXiv:1308.0850), eqs. 38-41, for the centered version.

    Raises ValueError for a negative lr, eps, momentum, weight_decay or alpha.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        for option, value in (('learning rate', lr), ('epsilon value', eps),
                              ('momentum value', momentum),
                              ('weight_decay value', weight_decay), ('alpha value', alpha)):
            if not 0.0 <= value:
                raise ValueError(f'RMSprop: Invalid {option}: {value}')
        super().__init__(params, dict(
            lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
            weight_decay=weight_decay, capturable=capturable, foreach=foreach,
            maximize=maximize, differentiable=differentiable))

    def param_state_arrays(self, group):
        """square_avg, and momentum_buffer and grad_avg when used."""
        return 1 + (group['momentum'] > 0) + bool(group['centered'])

    def update_scratch_arrays(self, group):
        """The denominator and the step; one more when the gradient is copied."""
        return 2 + _gradient_copied(group)

    def _initial_state(self, p, group):
        xp = get_array_module(p.array)
        state = {'step': step_counter(), 'square_avg': xp.zeros_like(p.array)}
        if group['momentum'] > 0:
            state['momentum_buffer'] = xp.zeros_like(p.array)
        if group['centered']:
            state['grad_avg'] = xp.zeros_like(p.array)
        return state

    def _update(self, p, grad, state, group):
        state['step'] += 1
        on_gpu = cuda_kernels_enabled(get_array_module(p.array), tested=False)
        update = rmsprop_update_cuda if on_gpu else rmsprop_update
        update(p.array, grad, state['square_avg'],
               state['grad_avg'] if group['centered'] else None,
               state['momentum_buffer'] if group['momentum'] > 0 else None,
               lr=group['lr'], alpha=group['alpha'], eps=group['eps'],
               weight_decay=group['weight_decay'], momentum=group['momentum'],
               maximize=group['maximize'])


# ---------------------------------------------------------------- the same on a GPU

def _kernel_source(centered, with_momentum):
    """rmsprop_update for one element, in one pass: the kernel of one variant of the state
    (with or without grad_avg, with or without momentum_buffer)."""
    outputs = ['T param', 'T square_avg']
    body = ['T g = maximize ? -grad : grad;',
            'if (weight_decay != 0) g = g + weight_decay * param;',
            'square_avg = square_avg * alpha + one_minus_alpha * g * g;']
    if centered:
        outputs.append('T grad_avg')
        body += ['grad_avg = grad_avg + one_minus_alpha * (g - grad_avg);',
                 'const T avg = sqrt(square_avg - grad_avg * grad_avg) + eps;']
    else:
        body.append('const T avg = sqrt(square_avg) + eps;')
    if with_momentum:
        outputs.append('T momentum_buffer')
        body += ['momentum_buffer = momentum_buffer * momentum + g / avg;',
                 'param = param - lr * momentum_buffer;']
    else:
        body.append('param = param - lr * g / avg;')
    name = 'rmsprop' + ('_centered' if centered else '') + ('_momentum' if with_momentum else '')
    return ('ElementwiseKernel', name, 'T grad, T lr, T alpha, T one_minus_alpha, T eps, '
            'T weight_decay, T momentum, bool maximize', ', '.join(outputs), '\n'.join(body))


def rmsprop_update_cuda(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha,
                        eps, weight_decay, momentum, maximize=False):
    """rmsprop_update on CuPy arrays as one CUDA kernel (same arguments, same result)."""
    t = param.dtype.type
    outputs = [a for a in (param, square_avg, grad_avg, momentum_buffer) if a is not None]
    kernel = cuda_kernel(*_kernel_source(grad_avg is not None, momentum_buffer is not None))
    kernel(grad, t(lr), t(alpha), t(1 - alpha), t(eps), t(weight_decay), t(momentum),
           bool(maximize), *outputs)
