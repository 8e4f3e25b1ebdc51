"""``torchvision.utils``: ``make_grid`` and ``save_image``, with torchvision's arguments
and layout (so a grid saved here is the picture torchvision saves)."""
import math

import numpy as np
from PIL import Image

from ..backend import CPU, to_device
from ..tensor import Tensor

__all__ = ['make_grid', 'save_image']


def _host_array(tensor):
    if isinstance(tensor, (list, tuple)):
        return np.stack([_host_array(t) for t in tensor])
    if isinstance(tensor, Tensor):
        return np.array(to_device(tensor.array, CPU))
    raise TypeError(f'tensor should be a Tensor or a list of Tensors, got {type(tensor).__name__}')


def _normalize(images, value_range):
    """Clamp to ``value_range`` (default: the images' min and max) and map it onto [0, 1]."""
    low, high = value_range if value_range is not None else (float(images.min()),
                                                             float(images.max()))
    return (np.clip(images, low, high) - low) / max(high - low, 1e-5)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """The images of a batch (N, C, H, W) (or a list of (C, H, W)) tiled into one image
    (C, H', W'): ``nrow`` per row, ``padding`` pixels of ``pad_value`` around each.
    One-channel images become three-channel. ``normalize`` maps ``value_range`` (default:
    the batch's min and max; each image's own with ``scale_each``) onto [0, 1]."""
    images = _host_array(tensor)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 3:
        if images.shape[0] == 1:
            images = np.concatenate([images] * 3, axis=0)
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f'make_grid: expects images (N, C, H, W), got shape {images.shape}')
    if images.shape[1] == 1:
        images = np.concatenate([images] * 3, axis=1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError('value_range has to be a tuple (min, max) if specified. min and max '
                            'are numbers')
        images = (np.stack([_normalize(img, value_range) for img in images]) if scale_each
                  else _normalize(images, value_range)).astype(images.dtype, copy=False)
    if images.shape[0] == 1:
        return Tensor(np.ascontiguousarray(images[0]))
    count, channels = images.shape[:2]
    columns = min(nrow, count)
    rows = int(math.ceil(count / columns))
    height, width = images.shape[2] + padding, images.shape[3] + padding
    grid = np.full((channels, height * rows + padding, width * columns + padding), pad_value,
                   dtype=images.dtype)
    for k in range(count):
        y, x = divmod(k, columns)
        grid[:, y * height + padding:(y + 1) * height,
             x * width + padding:(x + 1) * width] = images[k]
    return Tensor(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """Save ``make_grid(tensor, **kwargs)`` as an image file (values in [0, 1] become
    0..255, rounded as torchvision does: x * 255 + 0.5, clamped, truncated)."""
    grid = make_grid(tensor, **kwargs).numpy()
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(pixels).save(fp, format=format)
