"""``torchvision.transforms``: the transforms of ``minidl.data.transforms`` under
torchvision's names. They take PIL images (Pillow does the pixel work, as in
torchvision), float Tensors and float arrays; see that module for the details."""
from ..data.transforms import (CenterCrop, ColorJitter, Compose, InterpolationMode, Lambda,
                               Normalize, Pad, PILToTensor, RandomCrop, RandomHorizontalFlip,
                               RandomResizedCrop, RandomVerticalFlip, Resize, ToPILImage,
                               ToTensor)

__all__ = ['Compose', 'ToTensor', 'PILToTensor', 'ToPILImage', 'Normalize', 'Resize',
           'CenterCrop', 'Pad', 'RandomCrop', 'RandomResizedCrop', 'RandomHorizontalFlip',
           'RandomVerticalFlip', 'ColorJitter', 'Lambda', 'InterpolationMode']
