"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, LogSoftmax."""
import warnings

from .. import functional as F
from .module import Module

__all__ = ['ReLU', 'LeakyReLU', 'Sigmoid', 'Tanh', 'Softmax', 'LogSoftmax']


class ReLU(Module):
    """max(x, 0); ``inplace=True`` writes the result into the input, as in PyTorch."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self):
        return 'inplace=True' if self.inplace else ''


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f'negative_slope={self.negative_slope}' + (', inplace=True' if self.inplace else '')


class Sigmoid(Module):
    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return F.tanh(input)


def _legacy_softmax_dim(name, ndim):
    """PyTorch's choice when no dim is given (deprecated there too): 0 for 0-, 1- and
    3-D inputs, else 1."""
    warnings.warn(f'Implicit dimension choice for {name} has been deprecated. Change the call '
                  f'to include dim=X as an argument.', stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_softmax_dim('softmax', input.ndim)
        return F.softmax(input, dim)

    def extra_repr(self):
        return f'dim={self.dim}'


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed stably."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = self.dim if self.dim is not None else _legacy_softmax_dim('log_softmax', input.ndim)
        return F.log_softmax(input, dim)

    def extra_repr(self):
        return f'dim={self.dim}'


# ================================================================ GELU, SiLU, Softplus

__all__ += ['GELU', 'SiLU', 'Softplus']


class GELU(Module):
    """x Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` for the tanh
    approximation (``F.gelu``)."""

    def __init__(self, approximate='none'):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f'approximate={self.approximate!r}'


class SiLU(Module):
    """x * sigmoid(x) (swish); ``inplace=True`` writes the result into the input."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)

    def extra_repr(self):
        return 'inplace=True' if self.inplace else ''


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, the identity where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f'beta={self.beta}, threshold={self.threshold}'
