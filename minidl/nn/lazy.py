"""Lazy layers: the input size is read from the first input, as PyTorch's ``nn.Lazy*``.

    net = nn.Sequential(nn.LazyConv2d(6, 5, padding=2), nn.ReLU(), nn.Flatten(),
                        nn.LazyLinear(10))
    net(minidl.zeros(1, 1, 28, 28))      # shapes inferred; the layers become Conv2d, Linear

Until the first forward, a lazy layer's parameters (and BatchNorm's running statistics)
are ``UninitializedParameter`` / ``UninitializedBuffer`` placeholders without a shape.
The first call reads the size it lacks (``in_features`` from the last dimension,
``in_channels`` / ``num_features`` from dimension 1), gives each placeholder its shape
in place — the same Parameter objects, so an optimizer built before still holds them —
initialises them as the plain layer does, and turns the layer into that plain class
(``LazyLinear`` becomes ``Linear``). ``load_state_dict`` into an uninitialised layer
takes the shapes from the checkpoint.
"""
from ..backend import Device, array_module_for
from ..tensor import Tensor, get_default_dtype
from .conv import Conv2d
from .linear import Linear
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d
from .parameter import Parameter

__all__ = ['UninitializedParameter', 'UninitializedBuffer', 'LazyModuleMixin', 'LazyLinear',
           'LazyConv2d', 'LazyBatchNorm1d', 'LazyBatchNorm2d', 'LazyBatchNorm3d']


def _placeholder(dtype, device):
    xp = array_module_for('cpu' if device is None else device)
    return xp.empty((0,), dtype=get_default_dtype() if dtype is None else dtype)


class _Uninitialized:
    """What the two placeholders share: no shape yet, and ``materialize``."""
    __slots__ = ()
    becomes = None   # the class a placeholder turns into

    def __init__(self, requires_grad=None, device=None, dtype=None):
        if requires_grad is None:   # PyTorch's defaults: a parameter requires grad
            requires_grad = self.becomes is Parameter
        self.becomes.__init__(self, _placeholder(dtype, device), requires_grad)

    def materialize(self, shape, device=None, dtype=None):
        """Give the placeholder ``shape`` (its dtype and device unless given), in place;
        it becomes a plain Parameter (Tensor); the values are uninitialised."""
        device = self.device if device is None else Device(device)
        dtype = self.dtype if dtype is None else dtype
        self.array = array_module_for(device).empty(tuple(shape), dtype=dtype)
        self.__class__ = self.becomes

    def __reduce_ex__(self, protocol):
        return (_rebuild_uninitialized, (type(self), self.requires_grad, str(self.device),
                                         self.dtype))

    def __repr__(self):
        return f'<{type(self).__name__}>'


class UninitializedParameter(_Uninitialized, Parameter):
    """A Parameter whose shape is not known yet (of a lazy layer before its first call)."""
    __slots__ = ()
    becomes = Parameter


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer whose shape is not known yet (a lazy BatchNorm's running statistics)."""
    __slots__ = ()
    becomes = Tensor


def _rebuild_uninitialized(cls, requires_grad, device, dtype):
    return cls(requires_grad, device, dtype)


class LazyModuleMixin:
    """Infers the missing sizes on the first call, then becomes ``cls_to_become``.

    A subclass defines ``initialize_parameters(*inputs)``, which materializes the
    placeholders and initialises them.
    """
    cls_to_become = None
    inferred = None   # the name of the size read from the first input ('in_features', ...)

    def _setup_lazy(self):
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters)

    def has_uninitialized_params(self):
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        return any(isinstance(t, _Uninitialized) for t in tensors)

    def initialize_parameters(self, *inputs):
        raise NotImplementedError(f'{type(self).__name__} must define initialize_parameters')

    def reset_parameters(self):
        """The plain layer's initialisation, once the size is known (nothing before)."""
        if not self.has_uninitialized_params() and getattr(self, self.inferred) != 0:
            super().reset_parameters()

    def _read_sizes(self):
        """Set the inferred size from the parameters' shapes (given by a checkpoint)."""
        raise NotImplementedError(f'{type(self).__name__} must define _read_sizes')

    def _load_from_state_dict(self, state_dict, prefix, missing_keys, unexpected_keys,
                              error_msgs):
        # an uninitialised placeholder takes its shape from the checkpoint
        for registry in (self._parameters, self._buffers):
            for name, tensor in registry.items():
                key = prefix + name
                if isinstance(tensor, _Uninitialized) and key in state_dict:
                    tensor.materialize(tuple(state_dict[key].shape))
        if not self.has_uninitialized_params():
            self._read_sizes()
        super()._load_from_state_dict(state_dict, prefix, missing_keys, unexpected_keys,
                                      error_msgs)


def _infer_parameters(module, args):
    """Forward pre-hook of a lazy layer: infer, materialize, become the plain class."""
    if module.has_uninitialized_params():
        module.initialize_parameters(*args)
        if module.has_uninitialized_params():
            raise RuntimeError(f'{type(module).__name__}: initialize_parameters left '
                               f'parameters uninitialized')
    module._initialize_hook.remove()
    del module._initialize_hook
    module.__class__ = module.cls_to_become


def _size_of(input, dim, layer, what):
    """The size of ``input`` along ``dim``, the one a lazy layer infers."""
    if not isinstance(input, Tensor) or input.ndim < (dim + 1 if dim >= 0 else -dim):
        found = input.shape if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f'{layer}: cannot infer {what} from an input of shape {found}')
    return input.shape[dim]


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` whose ``in_features`` is the last dimension of the first input."""
    cls_to_become = Linear
    inferred = 'in_features'

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        Module.__init__(self)
        self.in_features, self.out_features = 0, out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        else:
            self.register_parameter('bias', None)
        self._setup_lazy()

    def _read_sizes(self):
        self.in_features = self.weight.shape[1]

    def initialize_parameters(self, input, *rest):
        self.in_features = _size_of(input, -1, 'LazyLinear', 'in_features')
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        self.reset_parameters()


class LazyConv2d(LazyModuleMixin, Conv2d):
    """``Conv2d`` whose ``in_channels`` is the channel dimension of the first input:
    dimension 1 of (N, C, H, W), 0 of an unbatched (C, H, W)."""
    cls_to_become = Conv2d
    inferred = 'in_channels'

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode='zeros', device=None, dtype=None):
        # a Conv2d of 0 input channels checks and sets every setting; then its
        # parameters are replaced by placeholders
        Conv2d.__init__(self, 0, out_channels, kernel_size, stride, padding, dilation,
                        groups, bias, padding_mode, device, dtype)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        self._setup_lazy()

    def _read_sizes(self):
        self.in_channels = self.weight.shape[1] * self.groups

    def initialize_parameters(self, input, *rest):
        self.in_channels = _size_of(input, -3, 'LazyConv2d', 'in_channels')
        if self.in_channels % self.groups:
            raise ValueError(f'LazyConv2d: groups={self.groups} must divide the input\'s '
                             f'{self.in_channels} channels')
        self.weight.materialize((self.out_channels, self.in_channels // self.groups,
                                 *self.kernel_size))
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


class _LazyBatchNorm(LazyModuleMixin):
    """A BatchNorm whose ``num_features`` is dimension 1 of the first input."""
    inferred = 'num_features'

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        # built with 0 features, then its per-feature tensors become placeholders
        self.cls_to_become.__init__(self, 0, eps, momentum, affine, track_running_stats,
                                    device, dtype)
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
        self._setup_lazy()

    def _read_sizes(self):
        given = self.weight if self.weight is not None else self.running_mean
        if given is not None:
            self.num_features = given.shape[0]

    def initialize_parameters(self, input, *rest):
        self.num_features = _size_of(input, 1, type(self).__name__, 'num_features')
        for tensor in (self.weight, self.bias, self.running_mean, self.running_var):
            if tensor is not None:
                tensor.materialize((self.num_features,))
        self.reset_parameters()


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    cls_to_become = BatchNorm3d
