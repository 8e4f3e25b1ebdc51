"""Small, fast training setups shared by the tests of minidl.train."""
import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.data import DataLoader, Subset, get_dataset, transforms as T
from minidl.optim import SGD, lr_scheduler


def tiny_convnet(num_classes=10):
    """Conv, BatchNorm (running statistics), dropout (random draws): everything a resume
    has to restore."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(4 * 4 * 4, num_classes))


class Run:
    """A model, optimizer, schedule and loaders on 256 + 128 of the 8x8 digits."""

    def __init__(self, seed=0, augment=True):
        minidl.manual_seed(seed)
        steps = [T.RandomCrop(8, padding=1)] if augment else []
        train = get_dataset('digits', train=True, transform=T.Compose(steps) if steps else None)
        test = get_dataset('digits', train=False)
        self.train_loader = DataLoader(Subset(train, np.arange(256)), batch_size=32,
                                       shuffle=True, seed=seed)
        self.test_loader = DataLoader(Subset(test, np.arange(128)), batch_size=64)
        self.model = tiny_convnet()
        self.optimizer = SGD(self.model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        self.scheduler = lr_scheduler.StepLR(self.optimizer, step_size=1, gamma=0.7)

    def kwargs(self, **extra):
        """fit's keyword arguments for this run; ``extra`` adds or replaces some."""
        return {**dict(optimizer=self.optimizer, scheduler=self.scheduler, progress=False,
                       log=None), **extra}


@pytest.fixture
def make_run():
    return Run
