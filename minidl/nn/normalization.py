"""BatchNorm1d, BatchNorm2d, BatchNorm3d, SyncBatchNorm and LocalResponseNorm."""
import numpy as np

from .. import functional as F
from ..creation import ones, zeros
from ..functional import normalization as F_norm
from . import init
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    """Normalises each channel with the batch statistics (training) or the running ones
    (eval), then scales by ``weight`` and shifts by ``bias``.

    ``momentum`` weights the newest batch in the running statistics (PyTorch's
    convention: 0.1, i.e. Keras's 0.9); ``momentum=None`` keeps a cumulative average
    (factor 1 / num_batches_tracked). ``track_running_stats=False`` always normalises
    with the batch statistics.
    """
    expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if not isinstance(num_features, int) or num_features < 0:
            raise ValueError(f'{type(self).__name__}: num_features must be a non-negative '
                             f'integer, got {num_features!r}')
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.use_bias = bias
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype, device=device))
        else:
            self.register_parameter('weight', None)
        if affine and bias:
            self.bias = Parameter(zeros(num_features, dtype=dtype, device=device))
        else:
            self.register_parameter('bias', None)
        if track_running_stats:
            self.register_buffer('running_mean', zeros(num_features, dtype=dtype, device=device))
            self.register_buffer('running_var', ones(num_features, dtype=dtype, device=device))
            self.register_buffer('num_batches_tracked',
                                 zeros((), dtype=np.int64, device=device))
        else:
            self.register_buffer('running_mean', None)
            self.register_buffer('running_var', None)
            self.register_buffer('num_batches_tracked', None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _load_from_state_dict(self, state_dict, prefix, missing_keys, unexpected_keys,
                              error_msgs):
        # checkpoints from before PyTorch 0.4.1 have no num_batches_tracked: the module
        # keeps its own count, as PyTorch does (it sets momentum=None's average)
        key = prefix + 'num_batches_tracked'
        if self.track_running_stats and key not in state_dict:
            state_dict[key] = self.num_batches_tracked.array.copy()
        super()._load_from_state_dict(state_dict, prefix, missing_keys, unexpected_keys,
                                      error_msgs)

    def _check_input(self, input):
        # the message gets the layer's path and type in front (Module.__call__)
        if input.ndim not in self.expected_dims:
            raise ValueError(f'expected a {" or ".join(f"{d}-D" for d in self.expected_dims)} '
                             f'input, got shape {input.shape}')
        if input.shape[1] != self.num_features:
            raise ValueError(f'input has {input.shape[1]} channels, the layer was built '
                             f'for {self.num_features} (input {input.shape})')

    def _count_batch(self):
        """The momentum of this forward; in training, counts the batch."""
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.array)
        return momentum

    def forward(self, input):
        self._check_input(input)
        momentum = self._count_batch()
        # batch statistics while training, or always when no running statistics are kept
        use_batch_stats = self.training or self.running_mean is None
        # the running statistics are updated in training and read in eval
        pass_running = not self.training or self.track_running_stats
        return F.batch_norm(input,
                            self.running_mean if pass_running else None,
                            self.running_var if pass_running else None,
                            self.weight, self.bias, use_batch_stats, momentum, self.eps)

    def extra_repr(self):
        return (f'{self.num_features}, eps={self.eps}, momentum={self.momentum}, '
                f'affine={self.affine}, bias={self.bias is not None}, '
                f'track_running_stats={self.track_running_stats}')


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs."""
    expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs, one mean and variance per channel."""
    expected_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) inputs."""
    expected_dims = (5,)


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the whole data-parallel batch:
    the union of the batches of every rank (``torch.nn.SyncBatchNorm``). On one rank,
    or outside a ``minidl.distributed`` job, or in eval mode, it is a BatchNorm.

    Inputs of 2 to 5 dimensions (N, C, ...). ``convert_sync_batchnorm(model)`` turns
    every BatchNorm of a model into one. Each forward in training costs two all-reduces
    of C + 1 and C values, each backward one of 2C: worth it when each rank's batch is
    too small for good statistics (detection, segmentation, big images).
    """
    expected_dims = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype)
        self.process_group = process_group

    def _group(self):
        from .. import distributed as dist
        if not dist.is_initialized():
            return None
        group = self.process_group or dist.group.WORLD
        return group if group.size > 1 else None

    def forward(self, input):
        use_batch_stats = self.training or self.running_mean is None
        group = self._group() if self.training and use_batch_stats else None
        if group is None:
            return super().forward(input)
        self._check_input(input)
        momentum = self._count_batch()
        return F_norm.sync_batch_norm(input, self.running_mean, self.running_var, self.weight,
                                      self.bias, momentum, self.eps, group)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm (1d, 2d, 3d) replaced by a SyncBatchNorm that
        keeps its parameters (the same Parameter objects: an optimizer made before still
        works), buffers and train/eval mode. Returns the new module when ``module`` is
        itself a BatchNorm, else ``module``, changed in place."""
        converted = module
        if isinstance(module, _BatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            for name in ('weight', 'bias'):
                if getattr(module, name) is not None:
                    setattr(converted, name, getattr(module, name))
                else:
                    converted.register_parameter(name, None)
            for name in ('running_mean', 'running_var', 'num_batches_tracked'):
                setattr(converted, name, getattr(module, name))
            converted.use_bias = module.use_bias
            converted.train(module.training)
        for name, child in list(module.named_children()):
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted


class LocalResponseNorm(Module):
    """b_c = a_c / (k + alpha/size * sum of a^2 over ``size`` neighbouring channels)^beta.

    The AlexNet paper's constants (k=2, n=5, alpha=1e-4, beta=0.75, alpha not divided
    by n) are ``LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2)`` here, as in PyTorch.
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f'{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}'
