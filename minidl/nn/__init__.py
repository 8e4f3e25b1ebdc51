"""Neural network layers with PyTorch's names (``import minidl.nn as nn``).

``Module`` (module.py) is the base class: parameters, buffers, sub-modules, hooks,
state_dict, train/eval, to(device). Layers come one family per file; ``init`` has the
initialisers, ``functional`` the operators (the same as ``minidl.functional``) and
``parallel`` DistributedDataParallel, ``utils`` gradient clipping and parameter vectors.
"""
from . import functional, init, parallel, utils
from .activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .containers import ModuleDict, ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout, Dropout2d
from .lazy import (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv2d, LazyLinear,
                   LazyModuleMixin, UninitializedBuffer, UninitializedParameter)
from .linear import Flatten, Identity, Linear, Unflatten
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import (Module, RemovableHandle, register_module_forward_hook,
                     register_module_forward_pre_hook)
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, LocalResponseNorm,
                            SyncBatchNorm)
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = ['Module', 'Parameter', 'Sequential', 'ModuleList', 'ModuleDict', 'Conv2d', 'Linear',
           'Identity', 'Flatten', 'Unflatten', 'BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d',
           'SyncBatchNorm', 'LocalResponseNorm', 'MaxPool2d', 'AvgPool2d', 'AdaptiveAvgPool2d',
           'AdaptiveMaxPool2d', 'Dropout', 'Dropout2d', 'ReLU', 'LeakyReLU', 'Sigmoid', 'Tanh',
           'Softmax', 'LogSoftmax', 'CrossEntropyLoss', 'NLLLoss', 'MSELoss', 'init',
           'functional', 'parallel', 'RemovableHandle', 'register_module_forward_hook',
           'register_module_forward_pre_hook', 'LazyLinear', 'LazyConv2d', 'LazyBatchNorm1d',
           'LazyBatchNorm2d', 'LazyBatchNorm3d', 'LazyModuleMixin', 'UninitializedParameter',
           'UninitializedBuffer', 'GELU', 'SiLU', 'Softplus', 'BCELoss', 'BCEWithLogitsLoss',
           'Upsample', 'UpsamplingNearest2d', 'UpsamplingBilinear2d', 'utils']
