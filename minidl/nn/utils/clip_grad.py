"""Gradient clipping, as ``torch.nn.utils.clip_grad``: scale all gradients together so
that their total norm is at most ``max_norm`` (``clip_grad_norm_``), or clamp each
element (``clip_grad_value_``). Both change ``.grad`` in place, after ``backward()`` and
before ``optimizer.step()``.

The total norm of the gradients g_1 ... g_n is the norm of their norms,
||(||g_1||_p, ..., ||g_n||_p)||_p, which for a finite p is the p-norm of all gradient
elements together (and for p = inf the largest |element|). ``foreach`` (PyTorch's
choice of a fused kernel) is accepted and changes nothing: minidl has one code path.
"""
import warnings

import numpy as np

from ... import functional as F
from ...autograd import no_grad
from ...tensor import Tensor

__all__ = ['clip_grad_norm_', 'clip_grad_norm', 'clip_grad_value_', 'clip_grads_with_norm_',
           'get_total_norm']


def _as_list(tensors):
    """A list from one Tensor or an iterable (a generator such as ``model.parameters()``)."""
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _gradients(parameters):
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm (a number, inf or -inf) of the norms of ``tensors``, as a
    0-d Tensor (0.0 for no tensors). RuntimeError when it is NaN or infinite and
    ``error_if_nonfinite``."""
    tensors = _as_list(tensors)
    if not tensors:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    with no_grad():
        norms = [F.norm(t, norm_type) for t in tensors]
        dtype = np.result_type(*[n.dtype for n in norms])
        total = F.norm(F.stack([n.to(dtype) for n in norms]), norm_type)
    if error_if_nonfinite and not bool(F.isfinite(total).array):
        raise RuntimeError(f'clip_grad_norm_: the total norm of order {norm_type} for '
                           f'gradients from `parameters` is non-finite, so it cannot be '
                           f'clipped. To disable this error and scale the gradients by the '
                           f'non-finite norm anyway, set `error_if_nonfinite=False`')
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Multiply every gradient by min(1, max_norm / (total_norm + 1e-6)), in place."""
    grads = _gradients(parameters)
    if not grads:
        return
    with no_grad():
        coefficient = F.clamp(float(max_norm) / (total_norm + 1e-6), max=1.0)
        for g in grads:
            g.mul_(coefficient.to(g.dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale the gradients of ``parameters`` (a Tensor or an iterable of them) together,
    in place, so that their total ``norm_type``-norm is at most ``max_norm``: each is
    multiplied by min(1, max_norm / (total + 1e-6)), as in PyTorch. Parameters without a
    gradient are skipped. Returns the total norm before clipping (a 0-d Tensor), which
    is NaN or inf when a gradient is; with ``error_if_nonfinite=True`` that raises
    RuntimeError instead (and no gradient is changed)."""
    parameters = _as_list(parameters)
    total = get_total_norm(_gradients(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None):
    """PyTorch's deprecated name of ``clip_grad_norm_`` (warns, as PyTorch does)."""
    warnings.warn('`torch.nn.utils.clip_grad_norm` is now deprecated in favor of '
                  '`torch.nn.utils.clip_grad_norm_`.', FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element of ``parameters`` to [-clip_value, clip_value], in
    place. Returns None."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _gradients(parameters):
            g.clamp_(min=-clip_value, max=clip_value)
