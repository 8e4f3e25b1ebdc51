"""Small helpers shared by the operator families."""
import numpy as np

from ..autograd import sum_to_shape  # noqa: F401 (the engine's; operators import it from here)
from ..backend import get_array_module
from ..tensor import Tensor


def keep_where(mask, grad):
    """``grad`` where ``mask`` holds and an exact 0 elsewhere: a gradient an operator
    cuts off stays 0 whatever arrives from upstream (``grad * mask`` would turn an inf
    or NaN upstream into NaN), as PyTorch's ``where``/``masked_fill`` backward formulas
    do."""
    xp = get_array_module(grad)
    return xp.where(mask, grad, xp.zeros((), dtype=grad.dtype))


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def quiet(xp):
    """NumPy's floating-point warnings off (for inf and NaN results that are meant, as
    PyTorch gives them); nothing on CuPy, which does not warn."""
    return np.errstate(all='ignore') if xp is np else _Null()


def shape_of(x):
    return getattr(x, 'shape', ())


def broadcast_conflict(shape_a, shape_b):
    """The first pair of sizes, from the right, on which two shapes do not broadcast
    together (NumPy's rule: equal, or one of them 1), or None when they do."""
    for a, b in zip(reversed(shape_a), reversed(shape_b)):
        if a != b and a != 1 and b != 1:
            return a, b
    return None


def raw(x):
    """The array inside a Tensor, or ``x`` itself."""
    return x.array if isinstance(x, Tensor) else x


def with_batch_dim(fn, input, *args, **kwargs):
    """``fn`` on an unbatched (C, H, W) input, which PyTorch's convolution and pooling
    accept: run on (1, C, H, W) and drop the batch dimension of every output."""
    out = fn(input.unsqueeze(0), *args, **kwargs)
    if isinstance(out, tuple):
        return tuple(o.squeeze(0) for o in out)
    return out.squeeze(0)


def check_tensor(x, op, name='input'):
    if not isinstance(x, Tensor):
        raise TypeError(f'{op}: {name} must be a minidl Tensor, got {type(x).__name__}')


def normalize_dim(dim, ndim, op):
    """A dimension index in range(ndim), from a possibly negative ``dim``."""
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f'{op}: dimension {dim} is out of range for a tensor with {ndim} '
                         f'dimensions')
    return dim % max(ndim, 1)


def scatter_add(target, index, values):
    """target[index] += values, adding (not overwriting) where an index repeats:
    np.add.at on NumPy, cupyx.scatter_add on CuPy."""
    if get_array_module(target) is np:
        np.add.at(target, index, values)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)


def logistic(x):
    """sigmoid(x) = 1 / (1 + e^-x) of an array, without overflow: 1/(1+e^-x) for x >= 0
    and e^x/(1+e^x) for x < 0 (e^-|x| <= 1 in both)."""
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def softplus(x):
    """log(1 + e^x) of an array, without overflow: max(x, 0) + log(1 + e^-|x|)."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
