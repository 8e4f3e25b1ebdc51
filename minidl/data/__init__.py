"""Data for training: datasets, a batching DataLoader and image transforms.

    from minidl.data import DataLoader, get_dataset, transforms
    train = get_dataset('digits', train=True, size=28)
    loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)

Mirrors ``torch.utils.data`` (Dataset, TensorDataset, Subset, ConcatDataset,
random_split, DataLoader) and ``torchvision.transforms`` / ``torchvision.datasets``.
"""
from . import transforms
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader, default_collate
from . import datasets
from .datasets import CIFAR10, MNIST, Digits, FashionMNIST, get_dataset

__all__ = ['Dataset', 'TensorDataset', 'Subset', 'ConcatDataset', 'random_split', 'DataLoader',
           'default_collate', 'transforms', 'datasets', 'get_dataset', 'Digits', 'MNIST',
           'FashionMNIST', 'CIFAR10']
