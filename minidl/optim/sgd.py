"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from ..autograd import no_grad
from .optimizer import Optimizer, required


class SGD(Optimizer):
    """PyTorch's SGD, step for step. For each parameter p with gradient g:

        g = g + weight_decay * p                      (L2 penalty added to the gradient)
        b = g                      at the first step, then
        b = momentum * b + (1 - dampening) * g        (the momentum buffer)
        g = g + momentum * b       with nesterov, else g = b
        p = p - lr * g             (p + lr * g with maximize)

    The update runs in place on the parameter arrays; no graph is recorded.
    """

    def __init__(self, params, lr=required, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, maximize=False):
        if lr is not required and lr < 0.0:
            raise ValueError(f'SGD: invalid learning rate: {lr}')
        if momentum < 0.0:
            raise ValueError(f'SGD: invalid momentum value: {momentum}')
        if weight_decay < 0.0:
            raise ValueError(f'SGD: invalid weight_decay value: {weight_decay}')
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError('SGD: Nesterov momentum requires a momentum and zero dampening')
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    @no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            from ..autograd import enable_grad
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum, dampening = group['lr'], group['momentum'], group['dampening']
            weight_decay, nesterov, maximize = (group['weight_decay'], group['nesterov'],
                                                group['maximize'])
            for p in group['params']:
                if p.grad is None:
                    continue
                d_p = p.grad.data
                if maximize:
                    d_p = -d_p
                if weight_decay != 0:
                    d_p = d_p + weight_decay * p.data
                if momentum != 0:
                    state = self.state.setdefault(p, {})
                    buf = state.get('momentum_buffer')
                    if buf is None:
                        buf = state['momentum_buffer'] = d_p.copy()
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * d_p
                    d_p = d_p + momentum * buf if nesterov else buf
                p.data -= lr * d_p
        return loss
