"""Weight initialisation, in place, as ``torch.nn.init``.

Every function draws from minidl's seeded generator of the tensor's device
(``minidl.manual_seed`` makes it repeatable), writes into the tensor's array and
returns the tensor. The distributions are PyTorch's:

    kaiming_uniform_  U(-b, b),  b = gain * sqrt(3 / fan)          (He et al., 2015)
    kaiming_normal_   N(0, s^2), s = gain / sqrt(fan)
    xavier_uniform_   U(-b, b),  b = gain * sqrt(6 / (fan_in + fan_out))   (Glorot, 2010)
    xavier_normal_    N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))

with fan_in = size(1) * receptive field and fan_out = size(0) * receptive field.
PyTorch's default for Linear and Conv2d, kaiming_uniform_(a=sqrt(5)), works out to
U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

The names without the trailing underscore (``normal``, ``xavier_uniform``, ...) are
PyTorch's deprecated spellings: they do the same and warn (FutureWarning), as PyTorch's.
"""
import math
import warnings

from ..backend import get_array_module, random_normal, random_uniform
from ..tensor import Tensor

__all__ = ['calculate_gain', 'uniform_', 'normal_', 'trunc_normal_', 'constant_', 'zeros_',
           'ones_', 'eye_', 'xavier_uniform_', 'xavier_normal_', 'kaiming_uniform_',
           'kaiming_normal_', 'orthogonal_', 'uniform', 'normal', 'constant', 'eye',
           'xavier_uniform', 'xavier_normal', 'kaiming_uniform', 'kaiming_normal', 'orthogonal']


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance through ``nonlinearity``:
    1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + slope^2)) for leaky_relu (slope ``param``, default 0.01), 3/4 for selu."""
    linear = ('linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d',
              'conv_transpose3d', 'sigmoid')
    if nonlinearity in linear:
        return 1
    if nonlinearity == 'tanh':
        return 5.0 / 3
    if nonlinearity == 'relu':
        return math.sqrt(2.0)
    if nonlinearity == 'leaky_relu':
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f'calculate_gain: negative_slope {param} not a valid number')
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == 'selu':
        return 3.0 / 4
    raise ValueError(f'calculate_gain: unsupported nonlinearity {nonlinearity!r}')


def _check(tensor, op):
    if not isinstance(tensor, Tensor):
        raise TypeError(f'{op}: expected a minidl Tensor, got {type(tensor).__name__}')


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight (out, in, *kernel): in and out times the kernel size."""
    if tensor.ndim < 2:
        raise ValueError(f'Fan in and fan out can not be computed for tensor with fewer than '
                         f'2 dimensions (shape {tensor.shape})')
    receptive_field = 1
    for n in tensor.shape[2:]:
        receptive_field *= n
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ('fan_in', 'fan_out'):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == 'fan_in' else fan_out


def _write(tensor, values):
    """Store ``values`` in ``tensor``'s array in place (outside any graph)."""
    tensor.array[...] = values
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with U(a, b)."""
    _check(tensor, 'uniform_')
    return _write(tensor, random_uniform(tensor.shape, tensor.dtype, tensor.device, a, b))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with N(mean, std^2)."""
    _check(tensor, 'normal_')
    return _write(tensor, random_normal(tensor.shape, tensor.dtype, tensor.device, mean, std))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """Fill with N(mean, std^2) truncated to [a, b] (absolute bounds, as in PyTorch).

    Inverse-CDF sampling, PyTorch's method: with Phi the standard normal CDF, draw u
    uniform on [Phi(alpha), Phi(beta)] (alpha, beta: the bounds in standard units) and
    take Phi^-1(u) = sqrt(2) erfinv(2u - 1); no rejection loop."""
    _check(tensor, 'trunc_normal_')
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn('trunc_normal_: mean is more than 2 std from [a, b]. The distribution '
                      'of values may be incorrect.', stacklevel=2)
    low = _normal_cdf((a - mean) / std)
    high = _normal_cdf((b - mean) / std)
    u = random_uniform(tensor.shape, tensor.dtype, tensor.device, 2 * low - 1, 2 * high - 1)
    xp = get_array_module(u)
    values = _erfinv(u) * (std * math.sqrt(2.0)) + mean
    return _write(tensor, xp.clip(values, a, b))


def _normal_cdf(x):
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _erfinv(x):
    if get_array_module(x).__name__ == 'numpy':
        from scipy.special import erfinv
    else:
        from cupyx.scipy.special import erfinv
    return erfinv(x).astype(x.dtype, copy=False)


def constant_(tensor, val):
    """Fill with ``val``."""
    _check(tensor, 'constant_')
    return _write(tensor, val)


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def eye_(tensor):
    """The identity matrix, for a 2-D tensor."""
    _check(tensor, 'eye_')
    if tensor.ndim != 2:
        raise ValueError(f'eye_: only tensors with 2 dimensions are supported, got shape '
                         f'{tensor.shape}')
    xp = get_array_module(tensor.array)
    return _write(tensor, xp.eye(*tensor.shape, dtype=tensor.dtype))


def _empty_warning(tensor, op):
    if 0 in tensor.shape:
        warnings.warn(f'{op}: initializing zero-element tensors is a no-op', stacklevel=3)
        return True
    return False


def xavier_uniform_(tensor, gain=1.0):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    _check(tensor, 'xavier_uniform_')
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(2.0 / float(fan_in + fan_out)) * math.sqrt(3.0)
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """N(0, s^2) with s = gain * sqrt(2 / (fan_in + fan_out))."""
    _check(tensor, 'xavier_normal_')
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu'):
    """U(-b, b) with b = sqrt(3) * gain / sqrt(fan); ``a`` is leaky_relu's slope."""
    _check(tensor, 'kaiming_uniform_')
    if _empty_warning(tensor, 'kaiming_uniform_'):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu'):
    """N(0, s^2) with s = gain / sqrt(fan); ``a`` is leaky_relu's slope."""
    _check(tensor, 'kaiming_normal_')
    if _empty_warning(tensor, 'kaiming_normal_'):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


def orthogonal_(tensor, gain=1):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013), trailing dimensions
    flattened: Q of the QR factorisation of a standard normal (rows, cols) matrix (its
    transpose when rows < cols), each column's sign set by R's diagonal so that Q is
    uniform over orthogonal matrices (Mezzadri, 2007), as PyTorch draws it."""
    _check(tensor, 'orthogonal_')
    if tensor.ndim < 2:
        raise ValueError('Only tensors with 2 or more dimensions are supported')
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = random_normal((rows, cols), tensor.dtype, tensor.device)
    if rows < cols:
        flat = flat.T
    xp = get_array_module(flat)
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (q * gain).reshape(tensor.shape))


def _make_deprecated(method):
    new_name = method.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f'`nn.init.{old_name}` is now deprecated in favor of '
                      f'`nn.init.{new_name}`.', FutureWarning, stacklevel=2)
        return method(*args, **kwargs)

    deprecated_init.__name__ = old_name
    deprecated_init.__doc__ = f'Deprecated spelling of ``{new_name}`` (warns, as PyTorch).'
    return deprecated_init


uniform = _make_deprecated(uniform_)
normal = _make_deprecated(normal_)
constant = _make_deprecated(constant_)
eye = _make_deprecated(eye_)
xavier_uniform = _make_deprecated(xavier_uniform_)
xavier_normal = _make_deprecated(xavier_normal_)
kaiming_uniform = _make_deprecated(kaiming_uniform_)
kaiming_normal = _make_deprecated(kaiming_normal_)
orthogonal = _make_deprecated(orthogonal_)
