"""Tensor: an array (NumPy or CuPy), its gradient, and the operator that made it.

Arithmetic, indexing and methods delegate to ``minidl.functional``, where every
operator is an ``ArrayFunction`` with its forward and backward side by side. This is
the one place where the layers point both ways: ``functional`` builds Tensors, and a
Tensor's methods call ``functional`` (imported at first use, ``_F``). The factories
(``tensor``, ``zeros``, ``randn`` ...) are in ``creation.py``.
"""
import numbers
import weakref

import numpy as np

from . import autograd
from .backend import (CPU, Device, device_of, get_array_module, is_array, random_normal,
                      random_uniform, random_integers, to_device)

float16, float32, float64 = np.dtype('float16'), np.dtype('float32'), np.dtype('float64')
int8, int16, int32, int64 = np.dtype('int8'), np.dtype('int16'), np.dtype('int32'), np.dtype('int64')
uint8, bool_ = np.dtype('uint8'), np.dtype('bool')
_default_float = float32


def get_default_dtype():
    return _default_float


def set_default_dtype(dtype):
    global _default_float
    dtype = np.dtype(dtype)
    if dtype.kind != 'f':
        raise TypeError(f'set_default_dtype: only floating-point types can be the default, got {dtype}')
    _default_float = dtype


def _is_float(dtype):
    return dtype.kind in 'fc'


class Size(tuple):
    """A tensor's shape, as ``torch.Size``: a tuple of ints (equal to the plain tuple with
    the same sizes), printed ``torch.Size([2, 3])`` by ``print``, ``str`` and ``repr``;
    slicing it or adding a tuple gives a Size, and ``numel()`` is the product of the
    sizes. One difference from PyTorch: in an f-string or ``format()`` it reads as the
    tuple, ``(2, 3)``, the form minidl's error messages give shapes in."""
    __slots__ = ()

    def __repr__(self):
        return f'torch.Size({list(self)})'

    __str__ = __repr__

    def __format__(self, format_spec):
        return format(tuple.__repr__(self), format_spec)

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def numel(self):
        n = 1
        for size in self:
            n *= size
        return n


class Tensor:
    """A multi-dimensional array that can record the operations applied to it.

    ``Tensor.array`` is the raw array (``numpy.ndarray`` on the CPU, ``cupy.ndarray`` on a
    GPU) that operators compute on; ``Tensor.data`` is, as in PyTorch, a detached Tensor
    sharing that array. ``_version`` counts the in-place changes of the storage (shared
    with views and ``detach()``); ``_base`` is the tensor a view was made from."""
    __slots__ = ('array', '_grad', '_requires_grad', '_grad_fn', '_output_index',
                 '_version_counter', '_view', '_post_accumulate_grad_hooks', '_backward_hooks',
                 '__weakref__')
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad=False):
        if not is_array(data):
            data = np.asarray(data)
        self.array = data
        self._grad = None
        self._grad_fn = None
        self._output_index = 0
        self._post_accumulate_grad_hooks = None
        self._backward_hooks = None
        self._requires_grad = False
        self._version_counter = autograd.VersionCounter()
        self._view = None
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _from_op(cls, data, node, index):
        t = cls.__new__(cls)
        t.array, t._grad, t._grad_fn, t._output_index = data, None, node, index
        t._post_accumulate_grad_hooks = None
        t._backward_hooks = None
        t._requires_grad = _is_float(data.dtype)
        t._version_counter = autograd.VersionCounter()
        t._view = None
        return t

    # ------------------------------------------------------------ autograd state
    @property
    def grad_fn(self):
        """The node that made this tensor (None for a leaf). A view whose storage was
        changed in place since gets its node rebuilt from the changed base."""
        view = self._view
        if (view is not None and view.version != self._version_counter.value
                and view.tracked and view.base.requires_grad):
            autograd.refresh_view(self)
        return self._grad_fn

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if self.grad_fn is not None:
            raise RuntimeError('you can only change requires_grad flags of leaf variables. If '
                               'you want to use a computed variable in a subgraph that '
                               "doesn't require differentiation use var_no_grad = var.detach().")
        if value and not _is_float(self.array.dtype):
            raise RuntimeError(f'only floating-point tensors can require gradients, '
                               f'got dtype {self.array.dtype}')
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        """The gradient accumulated by backward (a Tensor), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f'assigned grad expected to be a Tensor or None but got '
                                f'{type(value).__name__}')
            if value.shape != self.shape:
                raise RuntimeError(f'assigned grad has data of a different size: '
                                   f'{value.shape}, the tensor has {self.shape}')
            if value.dtype != self.dtype:
                raise RuntimeError(f'assigned grad has data of a different type: '
                                   f'{value.dtype}, the tensor has {self.dtype}')
            if value.device != self.device:
                raise RuntimeError(f'assigned grad has data located on a different device: '
                                   f'{value.device}, the tensor is on {self.device}')
        self._grad = value

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        """How many in-place changes this tensor's storage has had (PyTorch's name)."""
        return self._version_counter.value

    @property
    def _base(self):
        """The tensor this one is a view of (None when it is not a view), as in PyTorch."""
        return None if self._view is None else self._view.base

    def _is_view(self):
        return self._view is not None

    def _mark_changed(self, op):
        """Record an in-place change made directly on ``.array`` (by an optimizer's step,
        say), so that a backward needing the old values raises."""
        self._version_counter.bump(op)

    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
        autograd.run_backward(self, gradient, retain_graph)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        grad_fn = self.grad_fn
        if grad_fn is not None:
            if grad_fn.retained is None:
                grad_fn.retained = {}
            grad_fn.retained[self._output_index] = weakref.ref(self)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient (a Tensor) each time backward
        has computed it in full (summed over all uses), as ``torch.Tensor.register_hook``;
        a hook that returns a Tensor replaces the gradient (same shape and dtype), which
        then flows on (into ``.grad`` for a leaf, into the graph otherwise). Hooks run in
        the order they were registered. Returns a ``minidl.autograd.RemovableHandle``;
        ``handle.remove()`` takes the hook out. RuntimeError on a tensor that does not
        require grad."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        grad_fn = self.grad_fn
        if grad_fn is None:
            if self._backward_hooks is None:
                self._backward_hooks = {}
            hooks = self._backward_hooks
        else:
            if grad_fn.tensor_hooks is None:
                grad_fn.tensor_hooks = {}
            hooks = grad_fn.tensor_hooks.setdefault(self._output_index, {})
        handle = autograd.RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` in every backward, once this leaf's ``.grad`` holds the
        whole gradient of that backward (after all its uses have been summed in), as
        ``torch.Tensor.register_post_accumulate_grad_hook``. The hook's return value is
        ignored; it may read or change ``tensor.grad``. DistributedDataParallel uses it
        to start averaging gradients while backward goes on. Returns a handle whose
        ``remove()`` takes the hook out. RuntimeError on a non-leaf tensor."""
        if self.grad_fn is not None:
            raise RuntimeError('register_post_accumulate_grad_hook: post accumulate grad '
                               'hooks cannot be registered on non-leaf tensors')
        if self._post_accumulate_grad_hooks is None:
            self._post_accumulate_grad_hooks = {}
        handle = autograd.RemovableHandle(self._post_accumulate_grad_hooks)
        self._post_accumulate_grad_hooks[handle.id] = hook
        return handle

    def detach(self):
        """The same storage as a new leaf that does not require grad. It shares the
        version counter, so an in-place change through it is still detected."""
        t = Tensor(self.array)
        t._version_counter = self._version_counter
        return t

    @property
    def data(self):
        """This tensor's values as a new leaf Tensor sharing storage and detached from the
        graph, as ``torch.Tensor.data``: ``p.data.normal_(0, 0.01)`` changes ``p``. Unlike
        ``detach()`` it has a version counter of its own: autograd does not see changes
        made through it. The raw NumPy/CuPy array is ``Tensor.array``."""
        return Tensor(self.array)

    @data.setter
    def data(self, value):
        """``t.data = other`` makes ``t`` hold ``other``'s array (a Tensor or an array)."""
        array = value.array if isinstance(value, Tensor) else value
        if not is_array(array):
            raise TypeError(f'Tensor.data: assign a Tensor or an array, got {type(value).__name__}')
        self.array = array

    def detach_(self):
        """Make this tensor a leaf that does not require grad, in place."""
        if self._view is not None and self.grad_fn is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    # ------------------------------------------------------------ array facts
    @property
    def shape(self):
        """The sizes of the dimensions, a ``Size`` (a tuple)."""
        return Size(self.array.shape)

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def device(self):
        return device_of(self.array)

    @property
    def is_cuda(self):
        return self.device.type == 'cuda'

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.array.ndim

    def numel(self):
        return int(self.array.size)

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError('len() of a 0-d tensor')
        return self.array.shape[0]

    def element_size(self):
        return self.array.itemsize

    # ------------------------------------------------------------ moving and converting
    def numpy(self):
        """A NumPy copy of the data (from the GPU too)."""
        return np.array(to_device(self.array, CPU), copy=True)

    def item(self):
        if self.array.size != 1:
            raise RuntimeError(f'item: the tensor has {self.array.size} elements, not one')
        return self.array.reshape(()).item()

    def tolist(self):
        return to_device(self.array, CPU).tolist()

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)`` or ``to(device, dtype)``; differentiable."""
        device, dtype = parse_to_args('Tensor.to', args, kwargs)
        out = self
        if dtype is not None and np.dtype(dtype) != self.dtype:
            out = _F().to_dtype(out, np.dtype(dtype))
        if device is not None and Device(device) != self.device:
            out = _F().to_device(out, Device(device))
        return out

    def cpu(self):
        return self.to('cpu')

    def cuda(self, device=None):
        return self.to('cuda' if device is None else f'cuda:{device}' if isinstance(device, int) else device)

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def half(self):
        return self.to(float16)

    def long(self):
        return self.to(int64)

    def int(self):
        return self.to(int32)

    def bool(self):
        return self.to(bool_)

    def type_as(self, other):
        return self.to(other.dtype)

    def type(self, dtype=None, non_blocking=False):
        """With no argument, PyTorch's type name ('torch.FloatTensor', 'torch.cuda.LongTensor',
        ...); with a dtype or such a name, this tensor converted to it."""
        if dtype is None:
            prefix = 'torch.cuda.' if self.is_cuda else 'torch.'
            return prefix + _TYPE_NAMES.get(self.dtype, f'{self.dtype}Tensor')
        if isinstance(dtype, str):
            kind, _, name = dtype.rpartition('.')
            by_name = {v: k for k, v in _TYPE_NAMES.items()}
            if name not in by_name or kind not in ('torch', 'torch.cuda', 'minidl', 'minidl.cuda'):
                raise ValueError(f"type: invalid type {dtype!r} (expected a name like "
                                 f"'torch.FloatTensor' or a dtype)")
            out = self.to(by_name[name])
            return out.cuda() if kind.endswith('cuda') and not out.is_cuda else out
        return self.to(dtype)

    # ------------------------------------------------------------ in-place operations
    # Each is its out-of-place operator with the result written back into this tensor's
    # storage (minidl/functional/inplace.py): the same object and array, the version goes
    # up by one, and when recorded the operator's node becomes this tensor's grad_fn.
    def _inplace(self, name, fn, *args, **kwargs):
        return _F().inplace.apply_inplace(name, self, fn, *args, **kwargs)

    def add_(self, other, alpha=1): return self._inplace('add_', _F().add, other, alpha=alpha)
    def sub_(self, other, alpha=1): return self._inplace('sub_', _F().sub, other, alpha=alpha)
    def mul_(self, other): return self._inplace('mul_', _F().mul, other)
    def div_(self, other, rounding_mode=None):
        return self._inplace('div_', _F().div, other, rounding_mode=rounding_mode)
    def pow_(self, exponent): return self._inplace('pow_', _F().pow, exponent)
    def clamp_(self, min=None, max=None): return self._inplace('clamp_', _F().clamp, min, max)
    clip_ = clamp_
    def clamp_min_(self, min): return self._inplace('clamp_min_', _F().clamp_min, min)
    def clamp_max_(self, max): return self._inplace('clamp_max_', _F().clamp_max, max)
    def addcmul_(self, tensor1, tensor2, value=1):
        return self._inplace('addcmul_', _F().addcmul, tensor1, tensor2, value=value)
    def addcdiv_(self, tensor1, tensor2, value=1):
        return self._inplace('addcdiv_', _F().addcdiv, tensor1, tensor2, value=value)
    def lerp_(self, end, weight): return self._inplace('lerp_', _F().lerp, end, weight)
    def masked_fill_(self, mask, value):
        return self._inplace('masked_fill_', _F().masked_fill, mask, value)
    def scatter_(self, dim, index, src=None, value=None, reduce=None):
        return self._inplace('scatter_', _F().scatter, dim, index, src, value=value, reduce=reduce)
    def scatter_add_(self, dim, index, src):
        return self._inplace('scatter_add_', _F().scatter_add, dim, index, src)
    def index_add_(self, dim, index, source, alpha=1):
        return self._inplace('index_add_', _F().index_add, dim, index, source, alpha=alpha)
    def index_fill_(self, dim, index, value):
        return self._inplace('index_fill_', _F().index_fill, dim, index, value)
    def relu_(self): return self._inplace('relu_', _F().relu)
    def sigmoid_(self): return self._inplace('sigmoid_', _F().sigmoid)
    def tanh_(self): return self._inplace('tanh_', _F().tanh)
    def neg_(self): return self._inplace('neg_', _F().neg)
    def abs_(self): return self._inplace('abs_', _F().abs)
    def exp_(self): return self._inplace('exp_', _F().exp)
    def log_(self): return self._inplace('log_', _F().log)
    def sqrt_(self): return self._inplace('sqrt_', _F().sqrt)
    def sin_(self): return self._inplace('sin_', _F().sin)
    def cos_(self): return self._inplace('cos_', _F().cos)
    def tan_(self): return self._inplace('tan_', _F().tan)
    def sinh_(self): return self._inplace('sinh_', _F().sinh)
    def cosh_(self): return self._inplace('cosh_', _F().cosh)
    def exp2_(self): return self._inplace('exp2_', _F().exp2)
    def log2_(self): return self._inplace('log2_', _F().log2)
    def log10_(self): return self._inplace('log10_', _F().log10)
    def log1p_(self): return self._inplace('log1p_', _F().log1p)
    def expm1_(self): return self._inplace('expm1_', _F().expm1)
    def sign_(self): return self._inplace('sign_', _F().sign)
    def floor_(self): return self._inplace('floor_', _F().floor)
    def ceil_(self): return self._inplace('ceil_', _F().ceil)
    def round_(self, decimals=0): return self._inplace('round_', _F().round, decimals=decimals)
    def rsqrt_(self): return self._inplace('rsqrt_', _F().rsqrt)
    def reciprocal_(self): return self._inplace('reciprocal_', _F().reciprocal)
    def erf_(self): return self._inplace('erf_', _F().erf)

    def __iadd__(self, other): return self.add_(other)
    def __isub__(self, other): return self.sub_(other)
    def __imul__(self, other): return self.mul_(other)
    def __itruediv__(self, other): return self.div_(other)
    def __ipow__(self, other): return self.pow_(other)

    def zero_(self): return _F().inplace.fill(self, 0, 'zero_')
    def fill_(self, value): return _F().inplace.fill(self, value, 'fill_')
    def copy_(self, src, non_blocking=False): return _F().inplace.copy(self, src)

    def uniform_(self, a=0.0, b=1.0, generator=None):
        values = random_uniform(self.shape, self.dtype, self.device, a, b, generator)
        return _F().inplace.fill(self, values, 'uniform_')

    def normal_(self, mean=0.0, std=1.0, generator=None):
        values = random_normal(self.shape, self.dtype, self.device, mean, std, generator)
        return _F().inplace.fill(self, values, 'normal_')

    def exponential_(self, lambd=1.0, generator=None):
        """Samples of the exponential distribution with rate ``lambd``: -ln(1 - u) / lambd."""
        xp = get_array_module(self.array)
        u = random_uniform(self.shape, np.float64, self.device, 0.0, 1.0, generator)
        return _F().inplace.fill(self, -xp.log1p(-u) / lambd, 'exponential_')

    def bernoulli_(self, p=0.5, generator=None):
        """1 with probability ``p`` (a number or a tensor of probabilities), else 0."""
        p = p.array if isinstance(p, Tensor) else p
        u = random_uniform(self.shape, np.float64, self.device, 0.0, 1.0, generator)
        return _F().inplace.fill(self, u < p, 'bernoulli_')

    def random_(self, from_=0, to=None, generator=None):
        """Integers uniform on [from_, to) (``random_(to)`` is [0, to))."""
        if to is None:
            from_, to = 0, from_
        values = random_integers(from_, to, self.shape, self.device, np.int64, generator)
        return _F().inplace.fill(self, values, 'random_')

    def t_(self): return _F().inplace.reshape_inplace('t_', self, Tensor.t)
    def unsqueeze_(self, dim): return _F().inplace.reshape_inplace('unsqueeze_', self, _F().unsqueeze, dim)
    def squeeze_(self, dim=None): return _F().inplace.reshape_inplace('squeeze_', self, _F().squeeze, dim)
    def transpose_(self, dim0, dim1):
        return _F().inplace.reshape_inplace('transpose_', self, _F().transpose, dim0, dim1)

    # ------------------------------------------------------------ printing
    def __repr__(self):
        host = to_device(self.array, CPU)
        formatter = _float_formatter(host) if host.dtype.kind == 'f' else None
        body = np.array2string(host, separator=', ', prefix='tensor(', threshold=1000,
                               edgeitems=3, formatter=formatter)
        extras = []
        if self.device.type != 'cpu':
            extras.append(f"device='{self.device}'")
        if self.dtype not in (float32, int64, bool_):
            extras.append(f'dtype=minidl.{self.dtype}')
        if self.grad_fn is not None:
            extras.append(f'grad_fn=<{self.grad_fn.name()}>')
        elif self.requires_grad:
            extras.append('requires_grad=True')
        return 'tensor(' + body + ''.join(', ' + e for e in extras) + ')'

    def __format__(self, format_spec):
        """``f"{loss:.4f}"`` formats the number of a 0-d tensor, as in PyTorch."""
        if self.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f'the truth value of a tensor with {self.array.size} elements is '
                               f'ambiguous')
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.array.dtype.kind not in 'iub' or self.array.size != 1:
            raise TypeError('only integer tensors of a single element can be used as an index')
        return int(self.item())

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError('iteration over a 0-d tensor')
        return (self[i] for i in range(self.array.shape[0]))

    __hash__ = object.__hash__

    def __array__(self, dtype=None, copy=None):
        host = to_device(self.array, CPU)
        return host if dtype is None else host.astype(dtype)

    # ------------------------------------------------------------ operators
    def __add__(self, other): return _F().add(self, other)
    def __radd__(self, other): return _F().add(other, self)
    def __sub__(self, other): return _F().sub(self, other)
    def __rsub__(self, other): return _F().sub(other, self)
    def __mul__(self, other): return _F().mul(self, other)
    def __rmul__(self, other): return _F().mul(other, self)
    def __truediv__(self, other): return _F().div(self, other)
    def __rtruediv__(self, other): return _F().div(other, self)
    def __pow__(self, other): return _F().pow(self, other)
    def __rpow__(self, other): return _F().pow(other, self)
    def __matmul__(self, other): return _F().matmul(self, other)
    def __rmatmul__(self, other): return _F().matmul(other, self)
    def __neg__(self): return _F().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _F().abs(self)
    def __getitem__(self, index): return _F().getitem(self, index)

    def __setitem__(self, index, value):
        """``t[index] = value`` in place, differentiable in both (PyTorch's CopySlices)."""
        _F().inplace.setitem(self, index, value)

    def __eq__(self, other):
        return _F().eq(self, other) if _comparable(other) else NotImplemented

    def __ne__(self, other):
        return _F().ne(self, other) if _comparable(other) else NotImplemented

    def __lt__(self, other): return _F().lt(self, other)
    def __le__(self, other): return _F().le(self, other)
    def __gt__(self, other): return _F().gt(self, other)
    def __ge__(self, other): return _F().ge(self, other)

    def eq(self, other): return _F().eq(self, other)
    def ne(self, other): return _F().ne(self, other)
    def lt(self, other): return _F().lt(self, other)
    def le(self, other): return _F().le(self, other)
    def gt(self, other): return _F().gt(self, other)
    def ge(self, other): return _F().ge(self, other)
    def equal(self, other): return _F().equal(self, other)

    # ------------------------------------------------------------ methods
    def add(self, other, alpha=1): return _F().add(self, other, alpha=alpha)
    def sub(self, other, alpha=1): return _F().sub(self, other, alpha=alpha)
    def mul(self, other): return _F().mul(self, other)
    def div(self, other, rounding_mode=None): return _F().div(self, other, rounding_mode)
    def pow(self, exponent): return _F().pow(self, exponent)
    def matmul(self, other): return _F().matmul(self, other)
    def mm(self, mat2): return _F().mm(self, mat2)
    def bmm(self, mat2): return _F().bmm(self, mat2)
    def exp(self): return _F().exp(self)
    def log(self): return _F().log(self)
    def sqrt(self): return _F().sqrt(self)
    def abs(self): return _F().abs(self)
    def neg(self): return _F().neg(self)
    def clamp(self, min=None, max=None): return _F().clamp(self, min, max)
    clip = clamp
    def clamp_min(self, min): return _F().clamp_min(self, min)
    def clamp_max(self, max): return _F().clamp_max(self, max)
    def lerp(self, end, weight): return _F().lerp(self, end, weight)
    def addcmul(self, tensor1, tensor2, value=1): return _F().addcmul(self, tensor1, tensor2, value=value)
    def addcdiv(self, tensor1, tensor2, value=1): return _F().addcdiv(self, tensor1, tensor2, value=value)
    def sin(self): return _F().sin(self)
    def cos(self): return _F().cos(self)
    def tan(self): return _F().tan(self)
    def sinh(self): return _F().sinh(self)
    def cosh(self): return _F().cosh(self)
    def exp2(self): return _F().exp2(self)
    def log2(self): return _F().log2(self)
    def log10(self): return _F().log10(self)
    def log1p(self): return _F().log1p(self)
    def expm1(self): return _F().expm1(self)
    def rsqrt(self): return _F().rsqrt(self)
    def reciprocal(self): return _F().reciprocal(self)
    def erf(self): return _F().erf(self)
    def sign(self): return _F().sign(self)
    def floor(self): return _F().floor(self)
    def ceil(self): return _F().ceil(self)
    def round(self, decimals=0): return _F().round(self, decimals=decimals)
    def trunc(self): return _F().trunc(self)
    def maximum(self, other): return _F().maximum(self, other)
    def minimum(self, other): return _F().minimum(self, other)
    def relu(self): return _F().relu(self)
    def sigmoid(self): return _F().sigmoid(self)
    def tanh(self): return _F().tanh(self)
    def softmax(self, dim, dtype=None): return _F().softmax(self, dim, dtype)
    def log_softmax(self, dim, dtype=None): return _F().log_softmax(self, dim, dtype)
    def sum(self, dim=None, keepdim=False): return _F().sum(self, dim, keepdim)
    def mean(self, dim=None, keepdim=False): return _F().mean(self, dim, keepdim)
    def max(self, dim=None, keepdim=False): return _F().max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return _F().min(self, dim, keepdim)
    def var(self, dim=None, unbiased=True, keepdim=False, correction=None):
        return _F().var(self, dim, unbiased, keepdim, correction=correction)
    def std(self, dim=None, unbiased=True, keepdim=False, correction=None):
        return _F().std(self, dim, unbiased, keepdim, correction=correction)
    def argmax(self, dim=None, keepdim=False, axis=None): return _F().argmax(self, dim, keepdim, axis=axis)
    def argmin(self, dim=None, keepdim=False, axis=None): return _F().argmin(self, dim, keepdim, axis=axis)
    def amax(self, dim=(), keepdim=False): return _F().amax(self, dim, keepdim)
    def amin(self, dim=(), keepdim=False): return _F().amin(self, dim, keepdim)
    def prod(self, dim=None, keepdim=False, dtype=None): return _F().prod(self, dim, keepdim, dtype=dtype)
    def cumsum(self, dim, dtype=None): return _F().cumsum(self, dim, dtype=dtype)
    def logsumexp(self, dim, keepdim=False): return _F().logsumexp(self, dim, keepdim)
    def norm(self, p='fro', dim=None, keepdim=False, dtype=None):
        return _F().norm(self, p, dim, keepdim, dtype=dtype)
    def gather(self, dim, index): return _F().gather(self, dim, index)
    def scatter(self, dim, index, src=None, value=None, reduce=None):
        return _F().scatter(self, dim, index, src, value=value, reduce=reduce)
    def scatter_add(self, dim, index, src): return _F().scatter_add(self, dim, index, src)
    def index_select(self, dim, index): return _F().index_select(self, dim, index)
    def index_add(self, dim, index, source, alpha=1): return _F().index_add(self, dim, index, source, alpha=alpha)
    def index_fill(self, dim, index, value): return _F().index_fill(self, dim, index, value)
    def masked_fill(self, mask, value): return _F().masked_fill(self, mask, value)
    def sort(self, dim=-1, descending=False, stable=False): return _F().sort(self, dim, descending, stable)
    def argsort(self, dim=-1, descending=False, stable=False): return _F().argsort(self, dim, descending, stable)
    def topk(self, k, dim=-1, largest=True, sorted=True): return _F().topk(self, k, dim, largest, sorted)
    def reshape(self, *shape): return _F().reshape(self, _shape_args(shape))
    def view(self, *shape): return _F().view(self, _shape_args(shape))
    def view_as(self, other): return _F().view(self, other.shape)
    def flatten(self, start_dim=0, end_dim=-1): return _F().flatten(self, start_dim, end_dim)
    def transpose(self, dim0, dim1): return _F().transpose(self, dim0, dim1)
    def permute(self, *dims): return _F().permute(self, _shape_args(dims))
    def squeeze(self, dim=None): return _F().squeeze(self, dim)
    def unsqueeze(self, dim): return _F().unsqueeze(self, dim)
    def expand(self, *sizes): return _F().expand(self, _shape_args(sizes))
    def expand_as(self, other): return _F().expand(self, other.shape)
    def split(self, split_size_or_sections, dim=0): return _F().split(self, split_size_or_sections, dim)
    def chunk(self, chunks, dim=0): return _F().chunk(self, chunks, dim)
    def narrow(self, dim, start, length): return _F().narrow(self, dim, start, length)
    def clone(self): return _F().clone(self)
    def contiguous(self): return self
    def repeat(self, *sizes): return _F().repeat(self, _shape_args(sizes))
    def flip(self, *args, dims=None):
        return _F().flip(self, _shape_args(args) if dims is None else dims)
    def fliplr(self): return _F().fliplr(self)
    def flipud(self): return _F().flipud(self)
    def all(self, dim=None, keepdim=False): return _F().all(self, dim, keepdim)
    def any(self, dim=None, keepdim=False): return _F().any(self, dim, keepdim)
    def isnan(self): return _F().isnan(self)
    def isinf(self): return _F().isinf(self)
    def isfinite(self): return _F().isfinite(self)
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _F().isclose(self, other, rtol, atol, equal_nan)
    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _F().allclose(self, other, rtol, atol, equal_nan)
    def nonzero(self, *, as_tuple=False): return _F().nonzero(self, as_tuple=as_tuple)

    # ------------------------------------------------------------ new tensors like this one
    # PyTorch's Tensor.new_*: the dtype and device of this tensor unless given.
    def _new(self, fill, size, dtype, device, requires_grad):
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        xp = get_array_module(self.array)
        array = to_device(fill(xp, tuple(int(n) for n in _shape_args(size)), dtype),
                          self.device if device is None else Device(device))
        return Tensor(array, requires_grad=requires_grad)

    def new_zeros(self, *args, size=None, dtype=None, device=None, requires_grad=False):
        return self._new(lambda xp, s, d: xp.zeros(s, d), args if size is None else (size,),
                         dtype, device, requires_grad)

    def new_ones(self, *args, size=None, dtype=None, device=None, requires_grad=False):
        return self._new(lambda xp, s, d: xp.ones(s, d), args if size is None else (size,),
                         dtype, device, requires_grad)

    def new_empty(self, *args, size=None, dtype=None, device=None, requires_grad=False):
        return self._new(lambda xp, s, d: xp.empty(s, d), args if size is None else (size,),
                         dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return self._new(lambda xp, s, d: xp.full(s, fill_value, d), (size,), dtype, device,
                         requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        """A new leaf holding a copy of ``data`` (any array-like, a Tensor's values too),
        in this tensor's dtype and device unless given."""
        data = data.array if isinstance(data, Tensor) else data
        return self._new(lambda xp, s, d: xp.array(to_device(data, CPU) if is_array(data)
                                                    else data, dtype=d),
                         (), dtype, device, requires_grad)

    @property
    def T(self):
        return _F().permute(self, tuple(range(self.ndim - 1, -1, -1)))

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f't: expects a tensor with at most 2 dimensions, got {self.ndim}')
        return self.T


def _comparable(other):
    """Whether ``t == other`` compares values (else Python's identity test decides, so
    ``t == None`` is False, as in PyTorch)."""
    return isinstance(other, (Tensor, numbers.Number, np.generic)) or is_array(other)


_TYPE_NAMES = {float32: 'FloatTensor', float64: 'DoubleTensor', float16: 'HalfTensor',
               int64: 'LongTensor', int32: 'IntTensor', int16: 'ShortTensor',
               int8: 'CharTensor', uint8: 'ByteTensor', bool_: 'BoolTensor'}


def _float_formatter(host):
    """PyTorch's number format: '1.' for integral values, 4 decimals otherwise,
    scientific when the magnitudes span more than 1000x; every entry of equal width."""
    finite = np.abs(host[np.isfinite(host)]).astype(np.float64)
    if finite.size and np.all(finite == np.round(finite)) and finite.max() < 1e8:
        fmt = '{:.0f}.'.format
    elif finite.size and (finite.max() > 1e8 or
                          (finite[finite > 0].size and
                           (finite.max() / finite[finite > 0].min() > 1000
                            or finite[finite > 0].min() < 1e-4))):
        fmt = '{:.4e}'.format
    else:
        fmt = '{:.4f}'.format
    values = host.reshape(-1)
    if values.size > 1000:  # the summarised print shows the edges only
        values = np.concatenate([values[:3], values[-3:]])
    width = max((len(fmt(float(v))) for v in values), default=0)
    return {'float_kind': lambda v: fmt(float(v)).rjust(width)}


def parse_to_args(op, args, kwargs):
    """(device, dtype) from the arguments of ``to``: ``to(device)``, ``to(dtype)``,
    ``to(device, dtype)``, ``to(tensor)`` or keywords; either may be None."""
    kwargs = dict(kwargs)
    device = kwargs.pop('device', None)
    dtype = kwargs.pop('dtype', None)
    kwargs.pop('non_blocking', None)
    if kwargs:
        raise TypeError(f'{op}: unexpected arguments {sorted(kwargs)}')
    for a in args:
        if isinstance(a, (str, Device)):
            device = a
        elif isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        else:
            dtype = a
    return device, dtype


def zero_grads(tensors, set_to_none=True):
    """Drop the gradient of each tensor, or set it to zeros (``set_to_none=False``) in a
    fresh leaf so that no graph sees the change. Module and Optimizer zero_grad use it."""
    for t in tensors:
        if t.grad is None:
            continue
        if set_to_none:
            t.grad = None
        else:
            t.grad = t.grad.detach()
            t.grad.array[...] = 0


def _shape_args(args):
    """Accept both f(2, 3) and f((2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


_functional = None


def _F():
    """minidl.functional, which sits above this file (imported once, at first use)."""
    global _functional
    if _functional is None:
        from . import functional
        _functional = functional
    return _functional
