"""Optimisers and learning-rate schedules (``minidl.optim``, as ``torch.optim``)."""
from . import lr_scheduler
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ['Optimizer', 'SGD', 'lr_scheduler']
