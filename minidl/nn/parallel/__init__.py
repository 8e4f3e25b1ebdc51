"""Data parallelism (``torch.nn.parallel``): ``DistributedDataParallel`` over the ranks of
``minidl.distributed``."""
from .distributed import DistributedDataParallel

__all__ = ['DistributedDataParallel']
