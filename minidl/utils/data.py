"""``torch.utils.data``: datasets, samplers, the DataLoader and collation.

    from minidl.utils.data import DataLoader, TensorDataset, random_split

The public face of ``minidl.data``, which implements them: every name of
``minidl.data.__all__`` but minidl's own extras (the embedded digits, ``get_dataset``,
the array transforms), which stay there. Under ``minidl run``, ``torch.utils.data``'s
submodules (``dataset``, ``sampler``, ``dataloader``, ``distributed``) are this module too.
"""
from .. import data as _data

_MINIDL_EXTRAS = {'transforms', 'datasets', 'get_dataset', 'Digits', 'MNIST', 'FashionMNIST',
                  'CIFAR10'}
__all__ = [name for name in _data.__all__ if name not in _MINIDL_EXTRAS]
globals().update({name: getattr(_data, name) for name in __all__})
