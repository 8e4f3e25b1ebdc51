"""Activation functions: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax.

``inplace=True`` (and ``relu_``) writes the result into the input (see inplace.py).
"""
import math

import numpy as np

from ..autograd import ArrayFunction as Function, Cost
from ..backend import ELEMENTS_PER_BLOCK, get_array_module, parallel_for
from ._util import keep_where, logistic, normalize_dim, quiet, softplus as _softplus
from .elementwise import to_dtype
from .inplace import apply_inplace
from .unary import _special

__all__ = ['relu', 'relu_', 'leaky_relu', 'leaky_relu_', 'sigmoid', 'tanh', 'softmax',
           'log_softmax', 'gelu', 'silu', 'softplus']


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        flat_x = x.reshape(-1)
        out = xp.empty_like(flat_x)
        # in blocks on minidl's threads (backend.parallel_for)
        parallel_for(xp, out.size, ELEMENTS_PER_BLOCK, lambda start, stop: xp.maximum(
            flat_x[start:stop], 0, out=out[start:stop]))
        out = out.reshape(x.shape)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = max(x, 0): dy/dx = [x > 0] = [y > 0], so the output is enough to keep.
        As PyTorch's threshold_backward: the gradient is cut off (exactly 0) where
        y <= 0, and passes where y is NaN."""
        (out,) = ctx.saved_tensors
        xp = get_array_module(grad)
        flat_out, flat_grad = out.reshape(-1), grad.reshape(-1)
        grad_x = xp.empty_like(flat_grad)

        def block(start, stop):  # in blocks on minidl's threads (backend.parallel_for)
            g, keep = flat_grad[start:stop], ~(flat_out[start:stop] <= 0)
            if xp.isfinite(g).all():  # a product: 10x faster than where (a cut-off 0 may be -0.0)
                xp.multiply(g, keep, out=grad_x[start:stop])
            else:                     # inf * 0 would be NaN
                grad_x[start:stop] = keep_where(keep, g)

        parallel_for(xp, grad_x.size, ELEMENTS_PER_BLOCK, block)
        return grad_x.reshape(grad.shape)


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, x, *, slope):
        xp = get_array_module(x)
        positive = x > 0
        ctx.save_for_backward(positive)
        ctx.slope = slope
        return xp.where(positive, x, x * slope)

    @staticmethod
    def backward(ctx, grad):
        """y = x for x > 0, s x otherwise: dy/dx = 1 or s."""
        (positive,) = ctx.saved_tensors
        xp = get_array_module(grad)
        return xp.where(positive, grad, grad * ctx.slope)

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=2 * o[0].size,
                                               backward_input_flops=2 * o[0].size))


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        # 1/(1 + e^-x), in place on one new array (integers become floats, as in exp),
        # in blocks on minidl's threads (backend.parallel_for); a contiguous float input
        # is read once, by the negation, any other first copied
        dtype = xp.result_type(x.dtype, xp.float16)
        same = x.dtype == dtype and x.flags.c_contiguous
        out = xp.empty(x.shape, dtype=dtype) if same else x.astype(dtype, order='C')
        flat, source = out.reshape(-1), (x.reshape(-1) if same else out.reshape(-1))

        def block(start, stop):
            values = flat[start:stop]
            xp.negative(source[start:stop], out=values)
            with quiet(xp):  # e^-x = inf for very negative x: the limit 0
                xp.exp(values, out=values)
            values += 1
            xp.reciprocal(values, out=values)

        parallel_for(xp, flat.size, ELEMENTS_PER_BLOCK, block)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = 1/(1+e^-x): dy/dx = y (1 - y)."""
        (out,) = ctx.saved_tensors
        xp = get_array_module(out)
        flat_out, flat_grad = out.reshape(-1), grad.reshape(-1)
        grad_x = xp.empty(flat_out.shape, dtype=out.dtype)

        def block(start, stop):  # in place: no input-sized temporaries
            values = grad_x[start:stop]
            xp.subtract(1, flat_out[start:stop], out=values)
            values *= flat_out[start:stop]
            values *= flat_grad[start:stop]

        parallel_for(xp, grad_x.size, ELEMENTS_PER_BLOCK, block)
        return grad_x.reshape(out.shape)

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=4 * o[0].size,
                                               backward_input_flops=3 * o[0].size))


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        out = get_array_module(x).tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = tanh x: dy/dx = 1 - y^2."""
        (out,) = ctx.saved_tensors
        xp = get_array_module(out)
        grad_x = xp.multiply(out, out, out=xp.empty_like(out))   # y^2, then in place
        xp.subtract(1, grad_x, out=grad_x)
        grad_x *= grad
        return grad_x

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=4 * o[0].size,
                                               backward_input_flops=3 * o[0].size))


def _max(x, dim):
    """The max along ``dim``, kept as a size-1 axis; an empty input has none to subtract."""
    return x.max(axis=dim, keepdims=True) if x.size else 0


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, *, dim):
        xp = get_array_module(x)
        shifted = x - _max(x, dim)  # e^(x - max) never overflows
        e = xp.exp(shifted)
        out = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        """y_i = e^x_i / sum_j e^x_j: dy_i/dx_k = y_i (d_ik - y_k), so
        dL/dx = y * (g - sum(g * y))  along ``dim``."""
        (out,) = ctx.saved_tensors
        return out * (grad - (grad * out).sum(axis=ctx.dim, keepdims=True))

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=5 * o[0].size,
                                               backward_input_flops=4 * o[0].size))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, *, dim):
        xp = get_array_module(x)
        shifted = x - _max(x, dim)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = x - log sum_j e^x_j: dy_i/dx_k = d_ik - softmax_k, so
        dL/dx = g - softmax(x) * sum(g)  along ``dim``, with softmax = e^y."""
        (out,) = ctx.saved_tensors
        xp = get_array_module(out)
        return grad - xp.exp(out) * grad.sum(axis=ctx.dim, keepdims=True)

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=5 * o[0].size,
                                               backward_input_flops=4 * o[0].size))


def relu(input, inplace=False):
    if inplace:
        return apply_inplace('relu_', input, ReLU.apply)
    return ReLU.apply(input)


def relu_(input):
    return relu(input, inplace=True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return apply_inplace('leaky_relu_', input, LeakyReLU.apply,
                             slope=negative_slope)
    return LeakyReLU.apply(input, slope=negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def sigmoid(input):
    return Sigmoid.apply(input)


def tanh(input):
    return Tanh.apply(input)


def _as_dtype(input, dtype):
    """``input`` cast to ``dtype`` first (the softmaxes' ``dtype=``), differentiably."""
    if dtype is None or np.dtype(dtype) == input.dtype:
        return input
    return to_dtype(input, np.dtype(dtype))


def softmax(input, dim, dtype=None):
    """exp(x_i) / sum_j exp(x_j) along ``dim``; with ``dtype`` the input is cast to it
    first, as in PyTorch."""
    input = _as_dtype(input, dtype)
    return Softmax.apply(input, dim=normalize_dim(dim, input.ndim, 'softmax'))


def log_softmax(input, dim, dtype=None):
    """log(softmax(x)) along ``dim``, computed stably; ``dtype`` as for softmax."""
    input = _as_dtype(input, dtype)
    return LogSoftmax.apply(input, dim=normalize_dim(dim, input.ndim, 'log_softmax'))


# ================================================================ gelu, silu, softplus

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715   # the tanh approximation's constant (Hendrycks & Gimpel, 2016)


class GELU(Function):
    """x Phi(x), Phi the standard normal CDF (``approximate='none'``), or its tanh
    approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (``'tanh'``).
    Saves the input only, as PyTorch does; backward recomputes Phi or tanh."""

    @staticmethod
    def forward(ctx, x, *, approximate):
        xp = get_array_module(x)
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate == 'tanh':
            out = 0.5 * x * (1 + xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x)))
        else:
            out = 0.5 * x * (1 + _special(xp).erf(x / math.sqrt(2)))
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        """Exact: y = x Phi(x): dy/dx = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi).
        tanh: y = x (1 + t) / 2, t = tanh u, u = sqrt(2/pi) (x + c x^3):
            dy/dx = (1 + t) / 2 + x (1 - t^2) du/dx / 2,  du/dx = sqrt(2/pi) (1 + 3 c x^2)."""
        (x,) = ctx.saved_tensors
        xp = get_array_module(x)
        if ctx.approximate == 'tanh':
            t = xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
            du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x * x)
            local = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
        else:
            cdf = 0.5 * (1 + _special(xp).erf(x / math.sqrt(2)))
            local = cdf + x * xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (grad * local).astype(x.dtype, copy=False)

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=8 * o[0].size,
                                               backward_input_flops=10 * o[0].size))


class SiLU(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * logistic(x)

    @staticmethod
    def backward(ctx, grad):
        """y = x s, s = sigmoid(x), ds/dx = s (1 - s):
        dy/dx = s + x s (1 - s) = s (1 + x (1 - s))."""
        (x,) = ctx.saved_tensors
        s = logistic(x)
        return grad * s * (1 + x * (1 - s))

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=5 * o[0].size,
                                               backward_input_flops=8 * o[0].size))


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's
    cut-over to the identity, where the two agree to float precision)."""

    @staticmethod
    def forward(ctx, x, *, beta, threshold):
        xp = get_array_module(x)
        z = x * beta
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        smooth = _softplus(z) / beta   # log(1 + e^z), computed without overflow
        return xp.where(z > threshold, x, smooth).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        """y = log(1 + e^(b x)) / b: dy/dx = e^(b x) / (1 + e^(b x)) = sigmoid(b x);
        1 where the identity is used (b x > threshold)."""
        (x,) = ctx.saved_tensors
        xp = get_array_module(x)
        z = x * ctx.beta
        return xp.where(z > ctx.threshold, grad, grad * logistic(z))

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=6 * o[0].size,
                                               backward_input_flops=5 * o[0].size))


def gelu(input, approximate='none'):
    """The Gaussian Error Linear Unit x Phi(x) (Hendrycks & Gimpel, 2016), Phi the
    standard normal CDF; ``approximate='tanh'`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Same shape and dtype as ``input``."""
    if approximate not in ('none', 'tanh'):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if input.dtype.kind != 'f':
        raise TypeError(f'gelu: input must be floating point, got {input.dtype}')
    return GELU.apply(input, approximate=approximate)


def silu(input, inplace=False):
    """The Sigmoid Linear Unit (swish) x * sigmoid(x). ``inplace=True`` writes the result
    into ``input``."""
    if inplace:
        return apply_inplace('silu_', input, SiLU.apply)
    return SiLU.apply(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, a smooth relu; the identity where beta x > threshold,
    as in PyTorch."""
    return Softplus.apply(input, beta=beta, threshold=threshold)
