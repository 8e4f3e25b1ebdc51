"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from ..backend import cuda_kernel, cuda_kernels_enabled, get_array_module
from .optimizer import Optimizer

__all__ = ['SGD']


class SGD(Optimizer):
    """PyTorch's SGD, step for step. For each parameter p with gradient g:

        g = -g                                        (with maximize)
        g = g + weight_decay * p                      (L2 penalty added to the gradient)
        b = g                      at the first step, then
        b = momentum * b + (1 - dampening) * g        (the momentum buffer)
        g = g + momentum * b       with nesterov, else g = b
        p = p - lr * g

    The update runs in place on the parameter arrays (the Parameter objects stay the
    same); no graph is recorded. The momentum buffer, an array like p, is
    ``optimizer.state[p]['momentum_buffer']``. On a GPU with
    ``minidl.backend.use_cuda_kernels`` on, the whole update of a parameter is one
    kernel (sgd_update_cuda, below) instead of up to six array passes.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, maximize=False):
        if lr < 0.0:
            raise ValueError(f'SGD: Invalid learning rate: {lr}')
        if momentum < 0.0:
            raise ValueError(f'SGD: Invalid momentum value: {momentum}')
        if weight_decay < 0.0:
            raise ValueError(f'SGD: Invalid weight_decay value: {weight_decay}')
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f'SGD: Nesterov momentum requires a momentum and zero dampening '
                             f'(got momentum={momentum}, dampening={dampening})')
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        if group['nesterov'] and (group['momentum'] <= 0 or group['dampening'] != 0):
            raise ValueError('SGD: Nesterov momentum requires a momentum and zero dampening '
                             f'(a group has momentum={group["momentum"]}, '
                             f'dampening={group["dampening"]})')

    def step(self, closure=None):
        """One update of every parameter that has a gradient; ``closure`` (re-evaluating
        the loss with gradients on) is called first when given, and its loss returned."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, momentum, dampening = group['lr'], group['momentum'], group['dampening']
            weight_decay, nesterov = group['weight_decay'], group['nesterov']
            for p in group['params']:
                d_p = self._gradient(p)
                if d_p is None:
                    continue
                p._mark_changed('SGD.step')  # a graph that saved p sees the change
                if cuda_kernels_enabled(get_array_module(p.array)):
                    self._kernel_update(p, d_p, group)
                    continue
                if group['maximize']:
                    d_p = -d_p
                if weight_decay != 0:
                    d_p = d_p + weight_decay * p.array
                if momentum != 0:
                    state = self.state.setdefault(p, {})
                    buf = state.get('momentum_buffer')
                    if buf is None:
                        buf = state['momentum_buffer'] = d_p.copy()
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * d_p if dampening != 0 else d_p
                    d_p = d_p + momentum * buf if nesterov else buf
                p.array -= lr * d_p
        return loss

    def param_state_arrays(self, group):
        """The momentum buffer: one array like each parameter when momentum is on."""
        return 1 if group['momentum'] != 0 else 0

    def update_scratch_arrays(self, group):
        """d_p and lr * d_p; one more with Nesterov, maximize or weight decay."""
        return 2 if group['nesterov'] or group['maximize'] or group['weight_decay'] != 0 else 1

    def _kernel_update(self, p, grad, group):
        """The step of one parameter as one CUDA kernel, in place on p and its buffer."""
        momentum = group['momentum']
        buf, first = None, False
        if momentum != 0:
            state = self.state.setdefault(p, {})
            buf = state.get('momentum_buffer')
            if buf is None:
                first = True
                buf = state['momentum_buffer'] = get_array_module(p.array).empty_like(p.array)
        sgd_update_cuda(p.array, grad, buf, group['lr'], momentum, group['dampening'],
                                group['weight_decay'], group['nesterov'], group['maximize'],
                                first)


# ---------------------------------------------------------------- the same on a GPU

# SGD with momentum (PyTorch's step): d = +-g + wd p; b = d (first step) or
# momentum b + (1 - dampening) d; d = d + momentum b (Nesterov) or b; p -= lr d.
_SGD_MOMENTUM_KERNEL = ('ElementwiseKernel', 'sgd_momentum',
    'T g, T lr, T momentum, T one_minus_dampening, T weight_decay, '
    'bool nesterov, bool maximize, bool first',
    'T p, T buf',
    '''
    T d = maximize ? -g : g;
    if (weight_decay != 0) d = d + weight_decay * p;
    const T b = first ? d : buf * momentum + one_minus_dampening * d;
    buf = b;
    d = nesterov ? d + momentum * b : b;
    p = p - lr * d;
    ''')

# SGD without momentum: p -= lr (+-g + wd p).
_SGD_PLAIN_KERNEL = ('ElementwiseKernel', 'sgd_plain',
    'T g, T lr, T weight_decay, bool maximize',
    'T p',
    '''
    T d = maximize ? -g : g;
    if (weight_decay != 0) d = d + weight_decay * p;
    p = p - lr * d;
    ''')


def sgd_update_cuda(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov,
                    maximize, first):
    """One SGD step on one parameter array, in place: ``param`` and, with momentum,
    the momentum buffer ``buf`` (``first=True`` fills a fresh buffer with the first
    gradient). The same arithmetic as optim.SGD.step, one kernel per parameter."""
    t = param.dtype.type
    if momentum == 0:
        cuda_kernel(*_SGD_PLAIN_KERNEL)(grad, t(lr), t(weight_decay), bool(maximize), param)
        return
    cuda_kernel(*_SGD_MOMENTUM_KERNEL)(grad, t(lr), t(momentum), t(1 - dampening),
                                       t(weight_decay), bool(nesterov), bool(maximize),
                                       bool(first), param, buf)
