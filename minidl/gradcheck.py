"""Numerical gradient checking: the analytic backward against central differences.

For each input x that requires grad and each element x_i,

    dL/dx_i  ~  (L(x_i + eps) - L(x_i - eps)) / (2 eps),      L = sum(f(x) * v)

with a fixed random cotangent v, so one backward pass checks the whole Jacobian
product. ``fast_mode`` compares one random direction u instead of every element:
    <dL/dx, u>  ~  (L(x + eps u) - L(x - eps u)) / (2 eps)
(as PyTorch's fast gradcheck and Chainer's check_backward do) - cheap for whole models.
"""
import numpy as np

from .autograd import no_grad
from .backend import CPU, to_device
from .tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic and numerical gradients disagree."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return out if isinstance(out, (tuple, list)) else (out,)


def _loss(fn, inputs, cotangents):
    """sum_k <f_k(inputs), v_k> as a Python float (computed without recording)."""
    with no_grad():
        outs = _outputs(fn, inputs)
    total = 0.0
    for o, v in zip(outs, cotangents):
        if v is not None:
            total += float((to_device(o.array, CPU).astype(np.float64) * v).sum())
    return total


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              fast_mode=False, seed=0):
    """Check ``fn``'s backward on ``inputs`` (a Tensor or a tuple of them and other values).

    Inputs that require grad should be float64. Returns True, or raises
    ``GradcheckError`` naming the input, the worst element and both values (or returns
    False when ``raise_exception=False``).
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError('gradcheck: no input requires grad')
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f'gradcheck: input {i} is {inputs[i].dtype}; use float64, where '
                            f'central differences are accurate')
    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    cotangents = [rng.standard_normal(o.shape) if o.requires_grad else None for o in outs]

    # analytic: one backward of L = sum <f_k, v_k>
    for i in checked:
        inputs[i].grad = None
    pairs = [(o, v) for o, v in zip(outs, cotangents) if v is not None]
    if not pairs:
        raise ValueError('gradcheck: no output requires grad')
    for k, (o, v) in enumerate(pairs):
        o.backward(to_device(v.astype(o.dtype), o.device), retain_graph=k < len(pairs) - 1)
    analytic = {i: (np.zeros(inputs[i].shape) if inputs[i].grad is None
                    else inputs[i].grad.numpy().astype(np.float64)) for i in checked}

    def perturbed(i, delta):
        x = inputs[i]
        original = x.array.copy()
        x.array += delta
        try:
            return _loss(fn, inputs, cotangents)
        finally:
            x.array[...] = original

    for i in checked:
        x = inputs[i]
        if fast_mode:
            u = rng.standard_normal(x.shape)
            step = to_device(u * eps, x.device)
            numeric = (perturbed(i, step) - perturbed(i, -step)) / (2 * eps)
            expected = float((analytic[i] * u).sum())
            if abs(numeric - expected) > atol + rtol * abs(numeric):
                return _fail(raise_exception, f'gradcheck: input {i} (shape {x.shape}): '
                             f'directional derivative analytic {expected:.8g} vs numerical '
                             f'{numeric:.8g}')
            continue
        numeric = np.zeros(x.shape)
        flat = numeric.reshape(-1)
        for k in range(x.numel()):
            delta = np.zeros(x.numel())
            delta[k] = eps
            delta = to_device(delta.reshape(x.shape), x.device)
            flat[k] = (perturbed(i, delta) - perturbed(i, -delta)) / (2 * eps)
        error = np.abs(numeric - analytic[i]) - (atol + rtol * np.abs(numeric))
        if error.size and error.max() > 0:
            worst = np.unravel_index(int(error.argmax()), x.shape)
            return _fail(raise_exception,
                         f'gradcheck: input {i} (shape {x.shape}), element {tuple(map(int, worst))}: '
                         f'analytic {analytic[i][worst]:.8g} vs numerical {numeric[worst]:.8g}')
    return True


def _fail(raise_exception, message):
    if raise_exception:
        raise GradcheckError(message)
    return False
