"""Elementwise operators with NumPy broadcasting.

Each backward returns its bare derivative, at the output's shape; the engine sums a
broadcast input's gradient back to that input's shape (``autograd.sum_to_shape``), so an
operator on a (3, 1) and a (4,) input ends with gradients of shapes (3, 1) and (4,).
"""
import numpy as np

from ..autograd import ArrayFunction as Function, Cost
from .. import backend
from ..backend import get_array_module
from ..tensor import Tensor, get_default_dtype
from ._util import broadcast_conflict, check_tensor, keep_where, quiet, raw, shape_of

__all__ = ['add', 'sub', 'mul', 'div', 'neg', 'pow', 'exp', 'log', 'sqrt', 'abs', 'clamp',
           'clamp_min', 'clamp_max', 'maximum', 'minimum', 'where', 'clip', 'to_dtype',
           'to_device', 'lerp', 'addcmul', 'addcdiv', 'eq', 'ne', 'lt', 'le', 'gt', 'ge',
           'equal', 'isnan', 'isinf', 'isfinite', 'isclose', 'allclose']


def _check_broadcast(op, a, b):
    sa, sb = shape_of(a), shape_of(b)
    conflict = broadcast_conflict(sa, sb)
    if conflict:
        raise ValueError(f'{op}: shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast '
                         f'together (size {conflict[0]} against {conflict[1]})')


def _binary_cost(ctx, inputs, outputs, backward_per_element=1):
    n = outputs[0].size
    grads = sum(1 for need in ctx.needs_input_grad if need)
    return Cost(forward_flops=n, backward_input_flops=backward_per_element * n * grads)


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        """z = a + b: dz/da = dz/db = 1, so each input gets the upstream gradient."""
        return (grad if ctx.needs_input_grad[0] else None,
                grad if ctx.needs_input_grad[1] else None)

    cost = staticmethod(lambda ctx, i, o: _binary_cost(ctx, i, o, backward_per_element=0))


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        """z = a - b: dz/da = 1, dz/db = -1."""
        return (grad if ctx.needs_input_grad[0] else None,
                -grad if ctx.needs_input_grad[1] else None)

    cost = staticmethod(_binary_cost)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        # keep only the factor each gradient needs: dz/da needs b, dz/db needs a
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(b if need_a else None, a if need_b else None)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        """z = a * b: dz/da = b, dz/db = a."""
        b, a = ctx.saved_tensors
        return (grad * b if ctx.needs_input_grad[0] else None,
                grad * a if ctx.needs_input_grad[1] else None)

    cost = staticmethod(_binary_cost)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        """z = a / b: dz/da = 1/b, dz/db = -a/b^2 = -z/b."""
        a, b = ctx.saved_tensors
        grad_a = grad / b
        return (grad_a if ctx.needs_input_grad[0] else None,
                -grad_a * a / b if ctx.needs_input_grad[1] else None)

    cost = staticmethod(lambda ctx, i, o: _binary_cost(ctx, i, o, backward_per_element=3))


class RoundedDiv(Function):
    """a / b rounded towards zero ('trunc') or down ('floor'), as torch.div's
    rounding_mode. Floats keep IEEE results for b = 0 (inf, nan); integers stay
    integers."""

    @staticmethod
    def forward(ctx, a, b, *, rounding_mode):
        xp = get_array_module(a, b)
        with quiet(xp):
            if rounding_mode == 'floor':
                return xp.floor_divide(a, b)  # Python's floor division, as PyTorch's
            if xp.result_type(a, b).kind in 'fc':
                return xp.trunc(a / b)
            quotient = xp.floor_divide(a, b)  # integers: floor, then up by one where inexact
            return quotient + ((quotient < 0) & (quotient * b != a))

    @staticmethod
    def backward(ctx, grad):
        """A rounded quotient is piecewise constant: PyTorch defines both gradients as
        zero (everywhere, including the jumps)."""
        zeros = get_array_module(grad).zeros_like(grad)
        return (zeros if ctx.needs_input_grad[0] else None,
                zeros if ctx.needs_input_grad[1] else None)

    cost = staticmethod(_binary_cost)


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        """z = -a: dz/da = -1."""
        return -grad


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        with quiet(get_array_module(a, b)):  # 0 ** -1 = inf, (-1) ** 0.5 = nan, as PyTorch
            out = a ** b
        ctx.save_for_backward(a, b, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def backward(ctx, grad):
        """z = a^b: dz/da = b a^(b-1), dz/db = a^b ln a. At the edges PyTorch's formulas
        (pow_backward_self, pow_backward_exponent) fix the values: dz/da = 0 where b = 0
        (even at a = 0, where b a^(b-1) is 0 * inf), and dz/db = 0 at a = 0 with b >= 0
        (the limit from a > 0); a < 0 gives NaN and a = 0 with b < 0 gives -inf."""
        a, b, out = ctx.saved_tensors
        xp = get_array_module(grad)
        grad_a = grad_b = None
        with quiet(xp):
            if ctx.needs_input_grad[0]:
                grad_a = keep_where(b != 0, grad * (b * a ** (b - 1)))
            if ctx.needs_input_grad[1]:
                log_a = xp.log(xp.asarray(a, dtype=grad.dtype))
                zero = xp.zeros((), dtype=grad.dtype)
                grad_b = grad * xp.where((a == 0) & (b >= 0), zero, out * log_a)
        return grad_a, grad_b

    cost = staticmethod(lambda ctx, i, o: _binary_cost(ctx, i, o, backward_per_element=4))


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """z = e^a: dz/da = e^a = z (the output is saved, not the input)."""
        (out,) = ctx.saved_tensors
        return grad * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).log(a)

    @staticmethod
    def backward(ctx, grad):
        """z = ln a: dz/da = 1/a."""
        (a,) = ctx.saved_tensors
        return grad / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """z = sqrt(a): dz/da = 1 / (2 sqrt(a)) = 1 / (2z)."""
        (out,) = ctx.saved_tensors
        return grad / (2 * out)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).abs(a)

    @staticmethod
    def backward(ctx, grad):
        """z = |a|: dz/da = sign(a), taken as 0 at a = 0 and at NaN (as PyTorch does)."""
        (a,) = ctx.saved_tensors
        sign = (a > 0).astype(grad.dtype) - (a < 0)
        return grad * sign


class Clamp(Function):
    """min(max(a, low), high); ``low`` and ``high`` are numbers, tensors (which
    broadcast with ``a`` and get gradients) or None. Where low > high the result is
    high, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, low, high):
        xp = get_array_module(a, low, high)
        out = a
        if low is not None:
            out = xp.maximum(out, low)
        if high is not None:
            out = xp.minimum(out, high)
        ctx.save_for_backward(a, low, high)
        return out if out is not a else a.copy()

    @staticmethod
    def backward(ctx, grad):
        """z = min(max(a, low), high), so dz/da = 1 where low <= a <= high; dz/dlow = 1
        where a < low (and low < high); dz/dhigh = 1 where a > high or high < low; an
        exact 0 elsewhere. PyTorch's clamp_backward and clamp_backward_min_max."""
        a, low, high = ctx.saved_tensors
        need_a, need_low, need_high = ctx.needs_input_grad
        inside = True
        if low is not None:
            inside = inside & (a >= low)
        if high is not None:
            inside = inside & (a <= high)
        grad_a = keep_where(inside, grad) if need_a else None
        grad_low = grad_high = None
        if need_low:
            below = (a < low) if high is None else (a < low) & (low < high)
            grad_low = keep_where(below, grad)
        if need_high:
            above = (a > high) if low is None else (a > high) | (high < low)
            grad_high = keep_where(above, grad)
        return grad_a, grad_low, grad_high


class _Extremum(Function):
    """maximum / minimum: the gradient goes to the chosen input; on a tie it is split
    equally between both, and where either is NaN (so is the result) both get it, as
    PyTorch does."""
    pick = None

    @classmethod
    def forward(cls, ctx, a, b):
        xp = get_array_module(a, b)
        ctx.save_for_backward(a, b)
        ctx.is_max = cls.pick == 'maximum'
        return getattr(xp, cls.pick)(a, b)

    @staticmethod
    def backward(ctx, grad):
        """z = max(a, b): dz/da = 1 unless a < b (then exactly 0), halved where a == b;
        dz/db the same with a and b swapped (and > for < for min). These are PyTorch's
        formulas; a NaN compares false, so both inputs of a NaN result get the gradient."""
        a, b = ctx.saved_tensors
        xp = get_array_module(grad)
        shared = xp.where(a == b, grad / 2, grad)
        loses_a, loses_b = (a < b, a > b) if ctx.is_max else (a > b, a < b)
        return (keep_where(~loses_a, shared) if ctx.needs_input_grad[0] else None,
                keep_where(~loses_b, shared) if ctx.needs_input_grad[1] else None)

    cost = staticmethod(_binary_cost)


class Maximum(_Extremum):
    pick = 'maximum'


class Minimum(_Extremum):
    pick = 'minimum'


class Where(Function):
    """``a`` where the boolean array ``condition`` holds, else ``b``. The condition is
    a setting (a keyword argument): it gets no gradient."""

    @staticmethod
    def forward(ctx, a, b, *, condition):
        xp = get_array_module(condition, a, b)
        ctx.save_for_backward(condition)
        return xp.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        """z = c ? a : b: dz/da = [c], dz/db = [not c]."""
        (condition,) = ctx.saved_tensors
        xp = get_array_module(grad)
        zero = xp.zeros((), dtype=grad.dtype)
        return (xp.where(condition, grad, zero) if ctx.needs_input_grad[0] else None,
                xp.where(condition, zero, grad) if ctx.needs_input_grad[1] else None)


class ToDtype(Function):
    @staticmethod
    def forward(ctx, a, *, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        """A cast is the identity on values: the gradient is cast back."""
        return grad.astype(ctx.dtype)

    cost = staticmethod(lambda ctx, i, o: Cost())


class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, *, device):
        from ..backend import device_of
        ctx.device = device_of(a)
        return backend.to_device(a, device)

    @staticmethod
    def backward(ctx, grad):
        """A copy between devices: the gradient is copied back."""
        return backend.to_device(grad, ctx.device)

    cost = staticmethod(lambda ctx, i, o: Cost())


# ---------------------------------------------------------------- the public functions

_KINDS = 'bif'  # bool < int < float: the order in which Python numbers promote


def _kind(dtype):
    return _KINDS.index(dtype.kind) if dtype.kind in _KINDS else len(_KINDS)


def _number_dtype(value):
    """The dtype PyTorch gives a Python number on its own: bool, int64 or the default
    floating-point dtype."""
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(value, (int, np.integer)):
        return np.dtype(np.int64)
    return get_default_dtype()


def _result_dtype(*operands):
    """PyTorch's result dtype for tensors and Python numbers: the tensors' promoted
    dtype, unless a number is of a higher kind (a float with an integer tensor gives
    the default float dtype); numbers alone give their own dtype."""
    arrays = [raw(o) for o in operands if isinstance(o, Tensor)]
    numbers = [o for o in operands if not isinstance(o, Tensor)]
    number_dtype = max((_number_dtype(n) for n in numbers), key=_kind, default=None)
    if not arrays:
        return number_dtype
    dtype = np.result_type(*arrays)
    if number_dtype is not None and _kind(number_dtype) > _kind(dtype):
        return number_dtype
    return dtype


# the operators PyTorch also applies to two Python numbers (torch.add(2.0, 3.0))
_NUMBERS_ALONE = ('add', 'sub', 'mul', 'div')


def _binary(function, op, a, b, **settings):
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        if op not in _NUMBERS_ALONE:
            raise TypeError(f'{op}: at least one argument must be a Tensor, got '
                            f'{type(a).__name__} and {type(b).__name__}')
        a = Tensor(np.asarray(a, dtype=_result_dtype(a, b)))  # the first becomes a tensor
    _check_broadcast(op, raw(a), raw(b))
    return function.apply(a, b, **settings)


def _scaled(other, alpha):
    if alpha == 1:
        return other
    return mul(other, alpha) if isinstance(other, Tensor) else other * alpha


def add(input, other, alpha=1):
    """input + alpha * other"""
    return _binary(Add, 'add', input, _scaled(other, alpha))


def sub(input, other, alpha=1):
    """input - alpha * other"""
    return _binary(Sub, 'sub', input, _scaled(other, alpha))


def mul(input, other):
    return _binary(Mul, 'mul', input, other)


def div(input, other, rounding_mode=None):
    """input / other; ``rounding_mode`` None (true division), 'trunc' (towards zero)
    or 'floor' (down, like Python's //), as torch.div. Integer division by zero raises
    ZeroDivisionError, as in PyTorch."""
    if rounding_mode is None:
        return _binary(Div, 'div', input, other)
    if rounding_mode not in ('trunc', 'floor'):
        raise ValueError(f"div: expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found {rounding_mode!r}")
    if _result_dtype(input, other).kind in 'iub' and not get_array_module(raw(other)).all(raw(other) != 0):
        raise ZeroDivisionError(f'div: integer division by zero (rounding_mode={rounding_mode!r})')
    return _binary(RoundedDiv, 'div', input, other, rounding_mode=rounding_mode)


def pow(input, exponent):
    return _binary(Pow, 'pow', input, exponent)


def maximum(input, other):
    return _binary(Maximum, 'maximum', input, other)


def minimum(input, other):
    return _binary(Minimum, 'minimum', input, other)


def neg(input):
    return Neg.apply(input)


def exp(input):
    return Exp.apply(input)


def log(input):
    return Log.apply(input)


def sqrt(input):
    return Sqrt.apply(input)


def abs(input):
    return Abs.apply(input)


def clamp(input, min=None, max=None):
    """Each element limited to [min, max]: numbers or tensors (which broadcast and
    get gradients); either may be None, not both."""
    check_tensor(input, 'clamp')
    if min is None and max is None:
        raise ValueError('clamp: at least one of min and max must be given')
    for bound in (min, max):
        if bound is not None:
            _check_broadcast('clamp', raw(input), raw(bound))
    if min is not None and max is not None:
        _check_broadcast('clamp', raw(min), raw(max))
    return Clamp.apply(input, min, max)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def lerp(input, end, weight):
    """input + weight * (end - input); ``weight`` a number or a tensor."""
    return add(input, mul(weight, sub(end, input)))


def addcmul(input, tensor1, tensor2, value=1):
    """input + value * tensor1 * tensor2."""
    product = mul(tensor1, tensor2)
    return add(input, product if value == 1 else mul(product, value))


def addcdiv(input, tensor1, tensor2, value=1):
    """input + value * tensor1 / tensor2."""
    quotient = div(tensor1, tensor2)
    return add(input, quotient if value == 1 else mul(quotient, value))


# ---------------------------------------------------------------- comparisons
# Boolean results, outside the graph (a comparison has no gradient).

def _compare(op, ufunc, input, other):
    a, b = raw(input), raw(other)
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f'{op}: at least one argument must be a Tensor')
    _check_broadcast(op, a, b)
    return Tensor(getattr(get_array_module(a, b), ufunc)(a, b))


def eq(input, other):
    return _compare('eq', 'equal', input, other)


def ne(input, other):
    return _compare('ne', 'not_equal', input, other)


def lt(input, other):
    return _compare('lt', 'less', input, other)


def le(input, other):
    return _compare('le', 'less_equal', input, other)


def gt(input, other):
    return _compare('gt', 'greater', input, other)


def ge(input, other):
    return _compare('ge', 'greater_equal', input, other)


def equal(input, other):
    """True when both tensors have the same shape and the same values (a Python bool)."""
    if input.shape != other.shape:
        return False
    xp = get_array_module(input.array, other.array)
    return bool(xp.array_equal(input.array, other.array))


def _classify(op, ufunc, input, other_kinds):
    """``ufunc`` (isnan, isinf, isfinite) of a floating-point tensor; ``other_kinds``
    (the answer for integers and booleans, which are never NaN or infinite) otherwise."""
    check_tensor(input, op)
    xp = get_array_module(input.array)
    if input.dtype.kind in 'fc':
        return Tensor(getattr(xp, ufunc)(input.array))
    return Tensor(xp.full(input.shape, other_kinds, dtype=bool))


def isnan(input):
    """A boolean tensor: True where ``input`` is NaN."""
    return _classify('isnan', 'isnan', input, False)


def isinf(input):
    """A boolean tensor: True where ``input`` is +inf or -inf."""
    return _classify('isinf', 'isinf', input, False)


def isfinite(input):
    """A boolean tensor: True where ``input`` is neither NaN nor infinite."""
    return _classify('isfinite', 'isfinite', input, True)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """A boolean tensor: True where |input - other| <= atol + rtol |other| (broadcast
    together); NaNs are equal only with ``equal_nan``. Both must have one dtype, as in
    PyTorch."""
    check_tensor(input, 'isclose')
    check_tensor(other, 'isclose', 'other')
    if input.dtype != other.dtype:
        raise RuntimeError(f'isclose: input is {input.dtype} but other is {other.dtype}; '
                           f'they must have the same dtype')
    if rtol < 0 or atol < 0:
        raise RuntimeError(f'isclose: rtol and atol must be greater than or equal to zero, '
                           f'got rtol={rtol}, atol={atol}')
    _check_broadcast('isclose', input.array, other.array)
    xp = get_array_module(input.array, other.array)
    with quiet(xp):   # inf - inf
        return Tensor(xp.isclose(input.array, other.array, rtol=rtol, atol=atol,
                                 equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True (a Python bool) when ``isclose`` holds everywhere."""
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other``; either may be a Python
    number, which takes PyTorch's result dtype (two floats give the default dtype)."""
    cond = raw(condition)
    _check_broadcast('where', cond, raw(input))
    _check_broadcast('where', cond, raw(other))
    dtype = _result_dtype(input, other)
    xp = get_array_module(cond, raw(input), raw(other))
    input, other = (o if isinstance(o, Tensor) else xp.asarray(o, dtype=dtype)
                    for o in (input, other))
    out = Where.apply(input, other, condition=cond)
    return out if out.dtype == dtype else to_dtype(out, dtype)


def to_dtype(input, dtype):
    return ToDtype.apply(input, dtype=dtype)


def to_device(input, device):
    """A differentiable copy of ``input`` on ``device``."""
    return ToDevice.apply(input, device=device)
