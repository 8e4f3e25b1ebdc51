"""Loss modules: CrossEntropyLoss, NLLLoss, MSELoss, BCELoss, BCEWithLogitsLoss.

``size_average`` and ``reduce`` are PyTorch's deprecated arguments, accepted in their
positions so that positional calls port unchanged; they map to ``reduction``.
"""
from .. import functional as F
from ..functional.loss import legacy_reduction
from ..tensor import Tensor
from .module import Module

__all__ = ['CrossEntropyLoss', 'NLLLoss', 'MSELoss', 'BCELoss', 'BCEWithLogitsLoss']


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction='mean'):
        super().__init__()
        reduction = legacy_reduction(size_average, reduce, reduction)
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or "
                             f"'none', got {reduction!r}")
        self.reduction = reduction


def _buffer(loss, name, value):
    if value is not None and not isinstance(value, Tensor):
        raise TypeError(f'{type(loss).__name__}: {name} must be a minidl Tensor, got '
                        f'{type(value).__name__}')
    return value


class _WeightedLoss(_Loss):
    """A loss with per-class weights, kept as a buffer (moves with ``to()``, saved in
    ``state_dict()`` as PyTorch does)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction='mean'):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer('weight', _buffer(self, 'weight', weight))


class CrossEntropyLoss(_WeightedLoss):
    """log-softmax over the class dimension and negative log-likelihood of the target
    class indices or class probabilities, in one stable step (``F.cross_entropy``)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction='mean', label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities at the target class indices."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction='mean'):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean (or sum, or each) of the squared differences."""

    def __init__(self, size_average=None, reduce=None, reduction='mean'):
        super().__init__(size_average, reduce, reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (``F.binary_cross_entropy``); ``weight``
    (a buffer) broadcasts to the input."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction='mean'):
        super().__init__(weight, size_average, reduce, reduction)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one stable step
    (``F.binary_cross_entropy_with_logits``); ``weight`` and ``pos_weight`` are buffers,
    as in PyTorch."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction='mean',
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer('weight', _buffer(self, 'weight', weight))
        self.register_buffer('pos_weight', _buffer(self, 'pos_weight', pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)
