"""Data for training: datasets, a batching DataLoader and image transforms.

    from minidl.data import DataLoader, get_dataset, transforms
    train = get_dataset('digits', train=True, size=28)
    loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)

This package is the implementation; PyTorch's paths are its public faces:
``minidl.utils.data`` (``torch.utils.data``: datasets, samplers, DataLoader) and
``minidl.vision`` (``torchvision``: transforms, datasets, models, utils).
"""
from . import transforms
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset,
                      TensorDataset, random_split)
from .distributed import DistributedSampler
from .loader import DataLoader, default_collate, default_convert, get_worker_info
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)
from . import datasets
from .datasets import CIFAR10, MNIST, Digits, FashionMNIST, get_dataset

__all__ = ['Dataset', 'IterableDataset', 'TensorDataset', 'Subset', 'ConcatDataset',
           'ChainDataset', 'random_split', 'DataLoader', 'default_collate', 'default_convert',
           'get_worker_info', 'Sampler', 'SequentialSampler', 'RandomSampler',
           'SubsetRandomSampler', 'WeightedRandomSampler', 'BatchSampler',
           'DistributedSampler', 'transforms',
           'datasets', 'get_dataset', 'Digits', 'MNIST', 'FashionMNIST', 'CIFAR10']
