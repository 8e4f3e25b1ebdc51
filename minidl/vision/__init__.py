"""torchvision's paths on minidl: ``models``, ``transforms``, ``datasets``, ``utils``.

    from minidl.vision import datasets, models, transforms
    net = models.resnet18(weights=None, num_classes=10)
    train = datasets.CIFAR10('data', train=True, download=True,
                             transform=transforms.Compose([transforms.RandomCrop(32, padding=4),
                                                           transforms.ToTensor()]))

The one alias of torchvision in minidl: ``minidl run`` resolves ``import torchvision``
here. Each module shows torchvision's names over minidl's implementation (the zoo in
``minidl.models``, the transforms and datasets in ``minidl.data``).
"""
from .. import __version__
from . import datasets, models, transforms, utils

__all__ = ['datasets', 'models', 'transforms', 'utils']
