"""``torch.finfo`` and ``torch.iinfo``: the numerical limits of a dtype (from NumPy's
``finfo`` and ``iinfo``, with PyTorch's attribute names and Python numbers)."""
import numpy as np

from .tensor import get_default_dtype

__all__ = ['finfo', 'iinfo']


class finfo:
    """Limits of a floating-point dtype (the default dtype when none is given): ``bits``,
    ``eps`` (the gap between 1 and the next number), ``max``, ``min``, ``tiny`` and
    ``smallest_normal`` (the smallest positive normal number), ``resolution``
    (10^-precision) and ``dtype`` (its name). TypeError for other dtypes."""

    def __init__(self, type=None):
        dtype = np.dtype(get_default_dtype() if type is None else type)
        if dtype.kind != 'f':
            raise TypeError(f'finfo: {dtype} is not a floating-point dtype (use iinfo for '
                            f'integers)')
        info = np.finfo(dtype)
        self.bits = int(info.bits)
        self.eps, self.resolution = float(info.eps), 10.0 ** -int(info.precision)
        self.max, self.min = float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.dtype = str(dtype)

    def __repr__(self):
        return (f'finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, '
                f'eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, '
                f'tiny={self.tiny:g}, dtype={self.dtype})')


class iinfo:
    """Limits of an integer dtype: ``bits``, ``max``, ``min`` (Python ints) and ``dtype``
    (its name). TypeError for other dtypes."""

    def __init__(self, type):
        dtype = np.dtype(type)
        if dtype.kind not in 'iu':
            raise TypeError(f'iinfo: {dtype} is not an integer dtype (use finfo for '
                            f'floating point)')
        info = np.iinfo(dtype)
        self.bits, self.max, self.min = int(info.bits), int(info.max), int(info.min)
        self.dtype = str(dtype)

    def __repr__(self):
        return f'iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})'
