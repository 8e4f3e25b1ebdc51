"""Elementwise functions of one tensor: trigonometric and hyperbolic functions, the
exponential and logarithm in other bases, rsqrt, reciprocal, erf, and the rounding
functions (sign, floor, ceil, round, trunc), whose gradient is zero.

Integer and boolean inputs are computed in the default float dtype, as PyTorch does,
except by the rounding functions, which keep integers as they are.
"""
import math

import numpy as np

from ..autograd import ArrayFunction as Function, Cost
from ..backend import get_array_module
from ._util import check_tensor

__all__ = ['sin', 'cos', 'tan', 'sinh', 'cosh', 'exp2', 'log2', 'log10', 'log1p', 'expm1',
           'rsqrt', 'reciprocal', 'erf', 'sign', 'floor', 'ceil', 'round', 'trunc', 'fix']


def _unary_cost(forward, backward):
    """``forward`` FLOPs per output element and ``backward`` per input-gradient element."""
    def cost(ctx, inputs, outputs):
        n = outputs[0].size
        return Cost(forward_flops=forward * n,
                    backward_input_flops=backward * n if ctx.needs_input_grad[0] else 0)
    return staticmethod(cost)


class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).sin(x)

    @staticmethod
    def backward(ctx, grad):
        """y = sin x: dy/dx = cos x."""
        (x,) = ctx.saved_tensors
        return grad * get_array_module(x).cos(x)

    cost = _unary_cost(1, 2)


class Cos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).cos(x)

    @staticmethod
    def backward(ctx, grad):
        """y = cos x: dy/dx = -sin x."""
        (x,) = ctx.saved_tensors
        return -grad * get_array_module(x).sin(x)

    cost = _unary_cost(1, 3)


class Tan(Function):
    @staticmethod
    def forward(ctx, x):
        out = get_array_module(x).tan(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = tan x = sin x / cos x: dy/dx = 1 / cos^2 x = 1 + tan^2 x = 1 + y^2."""
        (out,) = ctx.saved_tensors
        return grad * (1 + out * out)

    cost = _unary_cost(1, 3)


class Sinh(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).sinh(x)

    @staticmethod
    def backward(ctx, grad):
        """y = sinh x = (e^x - e^-x) / 2: dy/dx = (e^x + e^-x) / 2 = cosh x."""
        (x,) = ctx.saved_tensors
        return grad * get_array_module(x).cosh(x)

    cost = _unary_cost(1, 2)


class Cosh(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).cosh(x)

    @staticmethod
    def backward(ctx, grad):
        """y = cosh x = (e^x + e^-x) / 2: dy/dx = (e^x - e^-x) / 2 = sinh x."""
        (x,) = ctx.saved_tensors
        return grad * get_array_module(x).sinh(x)

    cost = _unary_cost(1, 2)


class Exp2(Function):
    @staticmethod
    def forward(ctx, x):
        out = get_array_module(x).exp2(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = 2^x = e^(x ln 2): dy/dx = ln 2 * 2^x = ln 2 * y."""
        (out,) = ctx.saved_tensors
        return grad * out * math.log(2)

    cost = _unary_cost(1, 2)


class Log2(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).log2(x)

    @staticmethod
    def backward(ctx, grad):
        """y = log2 x = ln x / ln 2: dy/dx = 1 / (x ln 2)."""
        (x,) = ctx.saved_tensors
        return grad / (x * math.log(2))

    cost = _unary_cost(1, 2)


class Log10(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).log10(x)

    @staticmethod
    def backward(ctx, grad):
        """y = log10 x = ln x / ln 10: dy/dx = 1 / (x ln 10)."""
        (x,) = ctx.saved_tensors
        return grad / (x * math.log(10))

    cost = _unary_cost(1, 2)


class Log1p(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).log1p(x)

    @staticmethod
    def backward(ctx, grad):
        """y = ln(1 + x), accurate for small x: dy/dx = 1 / (1 + x)."""
        (x,) = ctx.saved_tensors
        return grad / (1 + x)

    cost = _unary_cost(1, 2)


class Expm1(Function):
    @staticmethod
    def forward(ctx, x):
        out = get_array_module(x).expm1(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = e^x - 1, accurate for small x: dy/dx = e^x = y + 1."""
        (out,) = ctx.saved_tensors
        return grad * (out + 1)

    cost = _unary_cost(1, 2)


class Rsqrt(Function):
    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        out = (1 / xp.sqrt(x)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = x^(-1/2): dy/dx = -1/2 x^(-3/2) = -y^3 / 2."""
        (out,) = ctx.saved_tensors
        return grad * (-0.5 * out * out * out)

    cost = _unary_cost(2, 4)


class Reciprocal(Function):
    @staticmethod
    def forward(ctx, x):
        out = (1 / x).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = 1/x: dy/dx = -1/x^2 = -y^2."""
        (out,) = ctx.saved_tensors
        return -grad * out * out

    cost = _unary_cost(1, 3)


def _special(xp):
    """scipy.special, or CuPy's version of it on the GPU."""
    if xp is np:
        import scipy.special
        return scipy.special
    import cupyx.scipy.special
    return cupyx.scipy.special


class Erf(Function):
    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        ctx.save_for_backward(x)
        return _special(xp).erf(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        """y = erf x = 2/sqrt(pi) * integral_0^x e^(-t^2) dt: dy/dx = 2/sqrt(pi) e^(-x^2)."""
        (x,) = ctx.saved_tensors
        xp = get_array_module(x)
        return grad * (2 / math.sqrt(math.pi)) * xp.exp(-x * x)

    cost = _unary_cost(1, 4)


class _Step(Function):
    """A piecewise-constant function (``rounding`` names the NumPy function): its
    derivative is 0 wherever it is defined, and PyTorch takes 0 at the jumps too."""
    rounding = None

    @classmethod
    def forward(cls, ctx, x, **kwargs):
        return getattr(get_array_module(x), cls.rounding)(x, **kwargs)

    @staticmethod
    def backward(ctx, grad):
        """y piecewise constant in x: dy/dx = 0."""
        return get_array_module(grad).zeros_like(grad)

    cost = _unary_cost(1, 0)


class Sign(_Step):
    """-1, 0 or 1; 0 for NaN, as PyTorch (NumPy's sign gives NaN)."""
    rounding = 'sign'

    @classmethod
    def forward(cls, ctx, x):
        xp = get_array_module(x)
        out = xp.sign(x)
        return xp.where(xp.isnan(x), 0, out) if x.dtype.kind == 'f' else out


class Floor(_Step):
    rounding = 'floor'


class Ceil(_Step):
    rounding = 'ceil'


class Round(_Step):
    """Round half to even, as PyTorch and NumPy do (``decimals`` digits after the point)."""
    rounding = 'round'


class Trunc(_Step):
    rounding = 'trunc'


# ---------------------------------------------------------------- the public functions

def _floating(op, input):
    """The input, converted to the default float dtype when it is integer or boolean."""
    check_tensor(input, op)
    if input.dtype.kind in 'fc':
        return input
    from ..tensor import get_default_dtype
    return input.to(get_default_dtype())


def sin(input):
    return Sin.apply(_floating('sin', input))


def cos(input):
    return Cos.apply(_floating('cos', input))


def tan(input):
    return Tan.apply(_floating('tan', input))


def sinh(input):
    return Sinh.apply(_floating('sinh', input))


def cosh(input):
    return Cosh.apply(_floating('cosh', input))


def exp2(input):
    return Exp2.apply(_floating('exp2', input))


def log2(input):
    return Log2.apply(_floating('log2', input))


def log10(input):
    return Log10.apply(_floating('log10', input))


def log1p(input):
    return Log1p.apply(_floating('log1p', input))


def expm1(input):
    return Expm1.apply(_floating('expm1', input))


def rsqrt(input):
    """1 / sqrt(input)."""
    return Rsqrt.apply(_floating('rsqrt', input))


def reciprocal(input):
    """1 / input."""
    return Reciprocal.apply(_floating('reciprocal', input))


def erf(input):
    """The error function, 2/sqrt(pi) * integral_0^x e^(-t^2) dt (scipy.special.erf)."""
    return Erf.apply(_floating('erf', input))


def _rounding(function, op, input, **kwargs):
    check_tensor(input, op)
    if input.dtype.kind in 'iub' and function is not Sign:
        return input.clone()               # integers are already whole
    return function.apply(input, **kwargs)


def sign(input):
    """-1, 0 or 1 by the sign of each element."""
    if input.dtype.kind == 'b':
        return input.clone()
    return _rounding(Sign, 'sign', input)


def floor(input):
    return _rounding(Floor, 'floor', input)


def ceil(input):
    return _rounding(Ceil, 'ceil', input)


def round(input, decimals=0):
    """Round to ``decimals`` digits after the point, halves to the even neighbour."""
    if decimals:
        return _rounding(Round, 'round', input, decimals=decimals)
    return _rounding(Round, 'round', input)


def trunc(input):
    """Round towards zero."""
    return _rounding(Trunc, 'trunc', input)


fix = trunc
