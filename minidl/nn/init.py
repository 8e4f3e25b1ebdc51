"""Weight initialisation, drawing from minidl's seeded generators, in place (as torch.nn.init)."""
import math

from ..autograd import no_grad
from ..backend import random_normal, random_uniform

__all__ = ['calculate_gain', 'uniform_', 'normal_', 'constant_', 'zeros_', 'ones_',
           'xavier_uniform_', 'xavier_normal_', 'kaiming_uniform_', 'kaiming_normal_',
           'trunc_normal_']


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear = ('linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d',
              'conv_transpose3d', 'sigmoid')
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == 'tanh':
        return 5.0 / 3
    if nonlinearity == 'relu':
        return math.sqrt(2.0)
    if nonlinearity == 'leaky_relu':
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == 'selu':
        return 3.0 / 4
    raise ValueError(f'calculate_gain: unsupported nonlinearity {nonlinearity!r}')


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(f'fan in and fan out need a tensor with at least 2 dimensions, '
                         f'got shape {tensor.shape}')
    receptive = 1
    for n in tensor.shape[2:]:
        receptive *= n
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    if mode not in ('fan_in', 'fan_out'):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == 'fan_in' else fan_out


@no_grad()
def uniform_(tensor, a=0.0, b=1.0):
    tensor.data[...] = random_uniform(tensor.shape, tensor.dtype, tensor.device, a, b)
    return tensor


@no_grad()
def normal_(tensor, mean=0.0, std=1.0):
    tensor.data[...] = random_normal(tensor.shape, tensor.dtype, tensor.device, mean, std)
    return tensor


@no_grad()
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """Normal(mean, std) redrawn until inside [a, b]."""
    values = random_normal(tensor.shape, tensor.dtype, tensor.device, mean, std)
    bad = (values < a) | (values > b)
    while bad.any():
        values[bad] = random_normal((int(bad.sum()),), tensor.dtype, tensor.device, mean, std)
        bad = (values < a) | (values > b)
    tensor.data[...] = values
    return tensor


@no_grad()
def constant_(tensor, val):
    tensor.data[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain=1.0):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu'):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015)."""
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(_fan(tensor, mode))
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu'):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(_fan(tensor, mode)))
