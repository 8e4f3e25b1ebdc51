"""Adam and AdamW: steps scaled by running averages of the gradient and of its square."""
from ..backend import cuda_kernel, cuda_kernels_enabled, get_array_module
from .optimizer import Optimizer, _gradient_copied, step_counter

__all__ = ['Adam', 'AdamW', 'adam_update']


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, *, lr, beta1, beta2,
                eps, weight_decay, maximize=False, decoupled_weight_decay=False):
    """One Adam step of one parameter, in place on ``param`` and its moment arrays (all of
    one shape and dtype; ``max_exp_avg_sq`` is None without amsgrad). ``step`` is t, the
    number of this update (1 for the first). PyTorch's arithmetic, in its order:

        g = -g                                   (maximize)
        g = g + weight_decay * p                 (L2 penalty)            or, decoupled:
        p = p * (1 - lr * weight_decay)          (AdamW's weight decay)
        m = m + (1 - beta1) (g - m)              (= beta1 m + (1 - beta1) g)
        v = beta2 v + (1 - beta2) g^2
        v_max = max(v_max, v); use v_max as v    (amsgrad)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """
    xp = get_array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    exp_avg += (1 - beta1) * (grad - exp_avg)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    second_moment = exp_avg_sq
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second_moment = max_exp_avg_sq
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    denom = xp.sqrt(second_moment)
    denom /= bias_correction2 ** 0.5
    denom += eps
    param -= lr / bias_correction1 * exp_avg / denom


class Adam(Optimizer):
    """PyTorch's Adam, step for step (``adam_update`` has the arithmetic). For each
    parameter p with gradient g, at its t-th update:

        m_t = beta1 m_{t-1} + (1 - beta1) g_t             (first moment, 'exp_avg')
        v_t = beta2 v_{t-1} + (1 - beta2) g_t^2           (second moment, 'exp_avg_sq')
        m^ = m_t / (1 - beta1^t),   v^ = v_t / (1 - beta2^t)   (bias corrections)
        p_t = p_{t-1} - lr m^ / (sqrt(v^) + eps)

    Each parameter moves by about lr in the direction of the sign of its averaged
    gradient, whatever the gradient's scale. ``weight_decay`` adds weight_decay * p to g
    (an L2 penalty, which the division by sqrt(v^) then rescales); with
    ``decoupled_weight_decay=True`` (AdamW) p is multiplied by 1 - lr * weight_decay
    instead. ``amsgrad`` divides by the largest v_t seen so far ('max_exp_avg_sq').
    ``maximize`` ascends. State per parameter, under PyTorch's keys: 'step' (a 0-d
    float32 array on the host), 'exp_avg', 'exp_avg_sq' (and 'max_exp_avg_sq'), arrays
    like p. ``foreach`` is accepted and changes nothing (one implementation);
    ``capturable``, ``differentiable`` and ``fused`` must stay off. On a GPU a parameter's
    whole update is one kernel (adam_update_cuda, below) unless
    ``minidl.backend.use_cuda_kernels`` is off.

    Sources: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015
    (arXiv:1412.6980), Algorithm 1; AMSGrad: Reddi, Kale & Kumar, "On the Convergence of
    Adam and Beyond", ICLR 2018; decoupled decay: Loshchilov & Hutter, "Decoupled Weight
    Decay Regularization", ICLR 2019 (arXiv:1711.05101).

    Raises ValueError for a negative lr, eps or weight_decay, or betas outside [0, 1).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        name = type(self).__name__
        if not 0.0 <= lr:
            raise ValueError(f'{name}: Invalid learning rate: {lr}')
        if not 0.0 <= eps:
            raise ValueError(f'{name}: Invalid epsilon value: {eps}')
        for index in (0, 1):
            if not 0.0 <= betas[index] < 1.0:
                raise ValueError(f'{name}: Invalid beta parameter at index {index}: '
                                 f'{betas[index]}')
        if not 0.0 <= weight_decay:
            raise ValueError(f'{name}: Invalid weight_decay value: {weight_decay}')
        super().__init__(params, dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
            maximize=maximize, foreach=foreach, capturable=capturable,
            differentiable=differentiable, fused=fused,
            decoupled_weight_decay=decoupled_weight_decay))

    def param_state_arrays(self, group):
        """exp_avg and exp_avg_sq, and max_exp_avg_sq with amsgrad."""
        return 3 if group['amsgrad'] else 2

    def update_scratch_arrays(self, group):
        """The denominator and the step; one more when the gradient is copied (maximize,
        L2 weight decay)."""
        return 2 + _gradient_copied(group)

    def _initial_state(self, p, group):
        xp = get_array_module(p.array)
        state = {'step': step_counter(), 'exp_avg': xp.zeros_like(p.array),
                 'exp_avg_sq': xp.zeros_like(p.array)}
        if group['amsgrad']:
            state['max_exp_avg_sq'] = xp.zeros_like(p.array)
        return state

    def _update(self, p, grad, state, group):
        state['step'] += 1
        beta1, beta2 = group['betas']
        on_gpu = cuda_kernels_enabled(get_array_module(p.array), tested=False)
        update = adam_update_cuda if on_gpu else adam_update
        update(p.array, grad, state['exp_avg'], state['exp_avg_sq'],
               state['max_exp_avg_sq'] if group['amsgrad'] else None, float(state['step']),
               lr=group['lr'], beta1=beta1, beta2=beta2, eps=group['eps'],
               weight_decay=group['weight_decay'], maximize=group['maximize'],
               decoupled_weight_decay=group['decoupled_weight_decay'])


class AdamW(Adam):
    """Adam with decoupled weight decay, as PyTorch's AdamW (default weight_decay 1e-2):

        p = p (1 - lr weight_decay)          (before the Adam step, not through g)

    then the Adam step of ``Adam``'s docstring. Decaying the weights directly, instead of
    adding weight_decay * p to the gradient, keeps the decay from being divided by
    sqrt(v^): every weight shrinks by the same factor, large gradients or not.

    Source: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019
    (arXiv:1711.05101), Algorithm 2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


# ---------------------------------------------------------------- the same on a GPU

# adam_update for one element, in one pass over the arrays; the scalars that depend
# only on the step come in computed (in double precision, as PyTorch does).
_KERNEL_BODY = '''
T g = maximize ? -grad : grad;
if (weight_decay != 0) {
    if (decoupled) param = param * decay_factor;
    else g = g + weight_decay * param;
}
exp_avg = exp_avg + one_minus_beta1 * (g - exp_avg);
exp_avg_sq = exp_avg_sq * beta2 + one_minus_beta2 * g * g;
%s
const T denom = sqrt(%s) / bias_correction2_sqrt + eps;
param = param - step_size * exp_avg / denom;
'''
_KERNEL_INPUTS = ('T grad, T one_minus_beta1, T beta2, T one_minus_beta2, T eps, '
                  'T weight_decay, T decay_factor, T step_size, T bias_correction2_sqrt, '
                  'bool maximize, bool decoupled')
_ADAM_KERNEL = ('ElementwiseKernel', 'adam', _KERNEL_INPUTS, 'T param, T exp_avg, T exp_avg_sq',
                _KERNEL_BODY % ('', 'exp_avg_sq'))
# amsgrad: v_max = max(v_max, v) (NaN wins, as torch.maximum), and v_max in the denominator
_ADAM_AMSGRAD_KERNEL = (
    'ElementwiseKernel', 'adam_amsgrad', _KERNEL_INPUTS,
    'T param, T exp_avg, T exp_avg_sq, T max_exp_avg_sq',
    _KERNEL_BODY % ('if (!(max_exp_avg_sq > exp_avg_sq || isnan(max_exp_avg_sq))) '
                    'max_exp_avg_sq = exp_avg_sq;', 'max_exp_avg_sq'))


def adam_update_cuda(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, *, lr, beta1,
                     beta2, eps, weight_decay, maximize=False, decoupled_weight_decay=False):
    """adam_update on CuPy arrays as one CUDA kernel (same arguments, same result)."""
    t = param.dtype.type
    scalars = (t(1 - beta1), t(beta2), t(1 - beta2), t(eps), t(weight_decay),
               t(1 - lr * weight_decay), t(lr / (1 - beta1 ** step)),
               t((1 - beta2 ** step) ** 0.5), bool(maximize), bool(decoupled_weight_decay))
    if max_exp_avg_sq is None:
        cuda_kernel(*_ADAM_KERNEL)(grad, *scalars, param, exp_avg, exp_avg_sq)
    else:
        cuda_kernel(*_ADAM_AMSGRAD_KERNEL)(grad, *scalars, param, exp_avg, exp_avg_sq,
                                           max_exp_avg_sq)
