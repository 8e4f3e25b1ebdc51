"""Image transforms with torchvision's names, arguments and numerics.

This is ``torchvision.transforms`` (``minidl.vision.transforms`` shows it). Each
transform takes what torchvision's takes and returns the same kind:

- a PIL image: the operation is Pillow's, as torchvision performs it (``pil_ops``), so a
  pipeline on PIL images gives torchvision's result; ``ToTensor`` / ``PILToTensor``
  turn it into a minidl Tensor (C, H, W);
- a float Tensor (C, H, W) or (N, C, H, W): computed on its array, returned as a Tensor
  (on the CPU);
- a float NumPy image (C, H, W) or a whole batch (N, C, H, W): minidl's array pipeline,
  which the datasets of ``minidl.data.datasets`` feed. On a batch, a random transform
  draws independent parameters for each image (a crop position, a flip, jitter factors
  ...) and applies them all with array operations: no Python loop runs over images or
  pixels.

Randomness: a random transform built with ``seed=`` owns a generator seeded with it.
Without one it draws from minidl's CPU generator (``minidl.manual_seed`` makes it
repeatable), or, inside a ``use_generator(g)`` block, from ``g``: the DataLoader uses
that to give every batch its own generator, so augmentation does not depend on the
timing of its prefetch thread and repeats exactly when a run is resumed.

``ToTensor`` turns a PIL image or a uint8 image ``(H, W)`` / ``(H, W, C)`` into a float32
Tensor ``(C, H, W)`` in [0, 1], and a uint8 batch ``(N, H, W, C)`` into a float32 array
``(N, C, H, W)``; the datasets in ``minidl.data.datasets`` already return float images,
and ``ToTensor`` passes float images through, so torchvision pipelines like
``Compose([ToTensor(), Normalize(...)])`` work unchanged on them. (torchvision would
transpose a float (H, W, C) array: minidl takes float arrays as channels-first.)
"""
import enum
import math
import numbers

import numpy as np

from ..backend import to_device
from ..tensor import Tensor
from . import pil_ops
from .rng import current_generator, use_generator

__all__ = ['Compose', 'ToTensor', 'PILToTensor', 'ToPILImage', 'Lambda', 'Normalize', 'Resize',
           'CenterCrop', 'Pad', 'RandomCrop', 'RandomHorizontalFlip', 'RandomVerticalFlip',
           'RandomResizedCrop', 'ColorJitter', 'InterpolationMode', 'use_generator',
           'supports_batches', 'batch_exact', 'rgb_to_grayscale', 'rgb_to_hsv', 'hsv_to_rgb',
           'adjust_brightness', 'adjust_contrast', 'adjust_saturation', 'adjust_hue']

def supports_batches(transform):
    """True when ``transform`` accepts a batch ``(N, C, H, W)`` (every minidl transform does)."""
    return transform is None or bool(getattr(transform, 'batched', False))


def batch_exact(transform):
    """True when running ``transform`` on a float batch (N, C, H, W) gives exactly what
    running it on each PIL image gives (a pipeline that ends in tensors through
    ``ToTensor``): crops and flips with zero fill, ``ToTensor``, ``Normalize``. The
    torchvision-style datasets then read whole batches; resizing and colour changes,
    which round to uint8 on PIL images, keep them item by item."""
    if isinstance(transform, Compose):
        return (all(getattr(t, 'exact_on_batches', False) for t in transform.transforms)
                and any(isinstance(t, ToTensor) for t in transform.transforms))
    return isinstance(transform, ToTensor)


class InterpolationMode(enum.Enum):
    """torchvision's interpolation modes (PIL images take every one; float arrays and
    Tensors are resized bilinearly only)."""
    NEAREST = 'nearest'
    BILINEAR = 'bilinear'
    BICUBIC = 'bicubic'
    BOX = 'box'
    HAMMING = 'hamming'
    LANCZOS = 'lanczos'


_PIL_CODES = {int(code): name for name, code in pil_ops.PIL_RESAMPLING.items()}


def _interpolation(value, name):
    """'bilinear', ... from an InterpolationMode, its value, or a Pillow constant."""
    if isinstance(value, InterpolationMode):
        return value.value
    if isinstance(value, str) and value in pil_ops.PIL_RESAMPLING:
        return value
    if isinstance(value, numbers.Integral) and int(value) in _PIL_CODES:
        return _PIL_CODES[int(value)]
    raise TypeError(f'{name}: interpolation should be an InterpolationMode, its name or a '
                    f'Pillow constant, got {value!r}')


def _check_array_interpolation(interpolation, name):
    if interpolation != 'bilinear':
        raise ValueError(f"{name}: float arrays and Tensors are resized with "
                         f"interpolation='bilinear' only (PIL images take {interpolation!r}), "
                         f"got {interpolation!r}")


# ---------------------------------------------------------------- base classes

def _check_image(img, name):
    if not isinstance(img, np.ndarray):
        raise TypeError(f'{name}: expects a NumPy array (C, H, W) or (N, C, H, W), '
                        f'got {type(img).__name__}')
    if img.ndim not in (3, 4) or img.dtype.kind != 'f':
        hint = '; convert uint8 images with ToTensor() first' if img.dtype == np.uint8 else ''
        raise ValueError(f'{name}: expects a float image (C, H, W) or batch (N, C, H, W), '
                         f'got shape {img.shape} dtype {img.dtype}{hint}')
    return img


class Transform:
    """A transform of images: subclasses write ``apply(batch)`` for a float batch
    (N, C, H, W) and ``apply_pil(img)`` for a PIL image; Tensors run through ``apply``."""
    batched = True
    exact_on_batches = False   # see batch_exact()

    def __call__(self, img):
        if pil_ops.is_pil_image(img):
            return self.apply_pil(img)
        if isinstance(img, Tensor):
            return Tensor(self(to_device(img.array, 'cpu')))
        img = _check_image(img, type(self).__name__)
        if img.ndim == 3:
            return self.apply(img[None])[0]
        return self.apply(img)

    def apply(self, batch):
        raise NotImplementedError(f'{type(self).__name__} must define apply(batch)')

    def apply_pil(self, img):
        raise TypeError(f'{type(self).__name__}: img should be a Tensor image, not a PIL '
                        f'image; convert it with ToTensor() first')

    def _args(self):
        return ''

    def __repr__(self):
        return f'{type(self).__name__}({self._args()})'


class RandomTransform(Transform):
    """A transform with random parameters, drawn from its own generator when seeded."""

    def __init__(self, seed=None):
        self.seed = seed
        self._generator = None if seed is None else np.random.default_rng(seed)

    @property
    def generator(self):
        return self._generator if self._generator is not None else current_generator()


def _pair(size, name):
    if isinstance(size, numbers.Integral):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (int(size[0]), int(size[0]))
    elif isinstance(size, (tuple, list)) and len(size) == 2:
        size = (int(size[0]), int(size[1]))
    else:
        raise TypeError(f'{name}: size must be an int or a pair (h, w), got {size!r}')
    if min(size) <= 0:
        raise ValueError(f'{name}: size must be positive, got {size}')
    return size


class Compose:
    """Apply ``transforms`` one after another (any callables: a function works too)."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    @property
    def batched(self):
        return all(supports_batches(t) for t in self.transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        inner = ''.join(f'\n    {t!r}' for t in self.transforms)
        return f'Compose({inner}\n)'


class ToTensor:
    """A PIL image or a uint8 image (H, W) / (H, W, C) -> float32 Tensor (C, H, W) in [0, 1];
    a uint8 batch (N, H, W, C) -> float32 array (N, C, H, W).

    Float images (arrays, channels-first, or Tensors) pass through as they are.
    """
    batched = True
    exact_on_batches = True

    def __call__(self, pic):
        if pil_ops.is_pil_image(pic):
            return Tensor(pil_ops.to_float_array(pic))
        if isinstance(pic, Tensor):
            if pic.dtype.kind != 'f':
                raise TypeError(f'ToTensor: expects uint8 images or float images, got a '
                                f'{pic.dtype} Tensor')
            return pic
        pic = np.asarray(pic)
        if pic.dtype == np.uint8:
            if pic.ndim == 2:
                pic = pic[:, :, None]
            if pic.ndim == 3:
                out = pic.transpose(2, 0, 1).astype(np.float32)
            elif pic.ndim == 4:
                out = pic.transpose(0, 3, 1, 2).astype(np.float32)
            else:
                raise ValueError(f'ToTensor: expects a uint8 image (H, W), (H, W, C) or a batch '
                                 f'(N, H, W, C), got shape {pic.shape}')
            out /= 255
            return out if out.ndim == 4 else Tensor(out)
        if pic.dtype.kind == 'f':
            if pic.ndim == 2:
                pic = pic[None]
            if pic.ndim not in (3, 4):
                raise ValueError(f'ToTensor: expects a float image (C, H, W) or batch '
                                 f'(N, C, H, W), got shape {pic.shape}')
            return pic.astype(np.float32, copy=False)
        raise TypeError(f'ToTensor: expects uint8 or float images, got dtype {pic.dtype}')

    def __repr__(self):
        return 'ToTensor()'


class PILToTensor:
    """A PIL image (or a uint8 array (H, W) / (H, W, C)) -> Tensor (C, H, W) of the same
    type, values unchanged (uint8 0..255 for 'L' and 'RGB' images)."""
    batched = False

    def __call__(self, pic):
        if pil_ops.is_pil_image(pic):
            return Tensor(np.ascontiguousarray(pil_ops.to_uint8_array(pic)))
        if isinstance(pic, np.ndarray) and pic.dtype == np.uint8 and pic.ndim in (2, 3):
            pic = pic[:, :, None] if pic.ndim == 2 else pic
            return Tensor(np.ascontiguousarray(pic.transpose(2, 0, 1)))
        raise TypeError(f'PILToTensor: pic should be a PIL Image or a uint8 array (H, W[, C]), '
                        f'got {type(pic).__name__}')

    def __repr__(self):
        return 'PILToTensor()'


class ToPILImage:
    """A Tensor or array (C, H, W) -> PIL image: floats times 255, truncated to uint8
    (torchvision's rule); 1, 3, 4 channels give an 'L', 'RGB', 'RGBA' image."""
    batched = False

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            array = pic.numpy()
        elif isinstance(pic, np.ndarray):
            # torchvision takes arrays as (H, W, C)
            array = pic if pic.ndim == 2 else pic.transpose(2, 0, 1)
        else:
            raise TypeError(f'ToPILImage: pic should be Tensor or ndarray. Got {type(pic)}.')
        return pil_ops.to_pil_image(array, self.mode)

    def __repr__(self):
        return f'ToPILImage(mode={self.mode})' if self.mode else 'ToPILImage()'


class Lambda:
    """Apply a user function as a transform."""
    batched = False

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f'Argument lambd should be callable, got '
                            f'{type(lambd).__name__!r}')
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return 'Lambda()'


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` for every channel c (float images and Tensors; a PIL
    image raises, as in torchvision)."""
    exact_on_batches = True

    def __init__(self, mean, std, inplace=False):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if np.any(self.std == 0):
            raise ValueError(f'Normalize: std must not contain zeros, got {self.std.tolist()}')
        self.inplace = inplace

    def apply(self, batch):
        channels = batch.shape[1]
        for name, values in (('mean', self.mean), ('std', self.std)):
            if values.size not in (1, channels):
                raise ValueError(f'Normalize: {values.size} {name} values for an image with '
                                 f'{channels} channels (shape {batch.shape})')
        mean, std = self.mean.reshape(-1, 1, 1), self.std.reshape(-1, 1, 1)
        if self.inplace:
            batch -= mean
            batch /= std
            return batch
        return (batch - mean) / std

    def _args(self):
        return f'mean={self.mean.tolist()}, std={self.std.tolist()}'


# ---------------------------------------------------------------- geometry

def _resize_weights(start, length, size, out_size, antialias):
    """Interpolation weights (N, out_size, size) that resize the box (start[n], length[n])
    of an axis of ``size`` pixels to ``out_size``, Pillow's bilinear filter.

    Output pixel d has its centre at c = (d + 0.5) * scale in box coordinates, scale =
    length / out_size; input pixel x (its centre at x + 0.5) gets the triangle weight
    max(0, 1 - |x + 0.5 - c| / support), support = max(scale, 1) with ``antialias``
    (shrinking averages every pixel under the footprint) and 1 without (the two nearest
    pixels: ``interpolate(mode='bilinear', align_corners=False)``); pixels outside the
    box get none, and the weights are normalised to sum to 1 (clamping at the borders).
    PyTorch's ``interpolate(antialias=True)`` computes the same weights (it follows Pillow).
    """
    length = length.astype(np.float64)
    scale = length / out_size
    support = np.maximum(scale, 1.0) if antialias else np.ones_like(scale)
    centre = (np.arange(out_size) + 0.5)[None, :] * scale[:, None]             # (N, out)
    x = np.arange(size)[None, None, :] - start[:, None, None]                   # (N, 1, size)
    weights = np.maximum(0.0, 1 - np.abs(x + 0.5 - centre[:, :, None]) / support[:, None, None])
    weights *= (x >= 0) & (x < length[:, None, None])
    return weights / weights.sum(axis=2, keepdims=True)


def _resample(batch, top, left, height, width, out_h, out_w, antialias=True):
    """Bilinear resize of the box (top, left, height, width) of each image to (out_h, out_w).

    The boxes are arrays (N,), one per image; the weights of rows and of columns are
    matrices, so the resize is two batched matrix products: Wy @ image @ Wx^T.
    """
    n, _, size_h, size_w = batch.shape
    wy = _resize_weights(top, height, size_h, out_h, antialias).astype(batch.dtype)
    wx = _resize_weights(left, width, size_w, out_w, antialias).astype(batch.dtype)
    rows = np.matmul(wy[:, None], batch)                                   # (N, C, oh, W)
    return np.matmul(rows, wx[:, None].transpose(0, 1, 3, 2))              # (N, C, oh, ow)


def _crop(batch, top, left, h, w):
    """The h x w window at (top[n], left[n]) of each image n, as one strided gather."""
    windows = np.lib.stride_tricks.sliding_window_view(batch, (h, w), axis=(2, 3))
    return windows[np.arange(batch.shape[0]), :, top, left]  # (N, C, h, w)


def _pad(batch, padding, fill=0, mode='constant', name='pad'):
    """Pad the last two axes by ``padding``: an int, (left/right, top/bottom) or (l, t, r, b)."""
    if isinstance(padding, numbers.Integral):
        left = top = right = bottom = int(padding)
    elif len(padding) == 1:
        left = top = right = bottom = int(padding[0])
    elif len(padding) == 2:
        (left, top), (right, bottom) = padding, padding
    elif len(padding) == 4:
        left, top, right, bottom = padding
    else:
        raise ValueError(f'{name}: padding must be an int or a sequence of 2 or 4 ints, '
                         f'got {padding!r}')
    widths = ((0, 0), (0, 0), (top, bottom), (left, right))
    if mode == 'constant':
        return np.pad(batch, widths, mode='constant', constant_values=fill)
    if mode not in ('edge', 'reflect', 'symmetric'):
        raise ValueError(f"{name}: padding_mode must be 'constant', 'edge', 'reflect' or "
                         f"'symmetric', got {mode!r}")
    return np.pad(batch, widths, mode=mode)


def _resized_size(height, width, size, max_size, name):
    """torchvision's output size: (h, w) as given, or the smaller edge matched to an int
    ``size`` keeping the aspect ratio (the longer edge truncated), capped by ``max_size``."""
    if isinstance(size, tuple):
        return size
    short, long = (height, width) if height <= width else (width, height)
    new_short, new_long = size, int(size * long / short)
    if max_size is not None:
        if max_size <= size:
            raise ValueError(f'{name}: max_size = {max_size} must be strictly greater than the '
                             f'requested size for the smaller edge size = {size}')
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_short, new_long) if height <= width else (new_long, new_short)


class Resize(Transform):
    """Resize to ``size``: (h, w), or an int that the smaller edge is matched to (keeping
    the aspect ratio, the longer edge at most ``max_size``), as torchvision.

    PIL images are resized by Pillow with ``interpolation`` (always antialiased);
    float arrays and Tensors bilinearly, antialiased when shrinking unless
    ``antialias=False`` (torchvision's default since 0.17 is True).
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=True):
        if isinstance(size, numbers.Integral) or (isinstance(size, (tuple, list))
                                                  and len(size) == 1):
            self.size = int(size if isinstance(size, numbers.Integral) else size[0])
            if self.size <= 0:
                raise ValueError(f'Resize: size must be positive, got {size}')
        else:
            self.size = _pair(size, 'Resize')
            if max_size is not None:
                raise ValueError('Resize: max_size should only be passed if size specifies the '
                                 'length of the smaller edge, i.e. size should be an int')
        self.interpolation = _interpolation(interpolation, 'Resize')
        self.max_size, self.antialias = max_size, antialias

    def output_size(self, height, width):
        return _resized_size(height, width, self.size, self.max_size, 'Resize')

    def apply(self, batch):
        _check_array_interpolation(self.interpolation, 'Resize')
        n, _, height, width = batch.shape
        out_h, out_w = self.output_size(height, width)
        if (out_h, out_w) == (height, width):
            return batch.copy()
        zeros = np.zeros(n, dtype=np.int64)
        return _resample(batch, zeros, zeros, np.full(n, height), np.full(n, width), out_h,
                         out_w, bool(self.antialias))

    def apply_pil(self, img):
        out = self.output_size(*pil_ops.image_size(img))
        if out == pil_ops.image_size(img):
            return img
        return pil_ops.resize(img, out, self.interpolation)

    def _args(self):
        return (f'size={self.size}, interpolation={self.interpolation}, '
                f'max_size={self.max_size}, antialias={self.antialias}')


def _center_padding(height, width, h, w):
    """(left, top, right, bottom) zero padding that lets an (h, w) crop fit, as torchvision."""
    pad_w, pad_h = max(w - width, 0), max(h - height, 0)
    return pad_w // 2, pad_h // 2, (pad_w + 1) // 2, (pad_h + 1) // 2


class CenterCrop(Transform):
    """The central (h, w) window; an image smaller than that is zero-padded first."""
    exact_on_batches = True

    def __init__(self, size):
        self.size = _pair(size, 'CenterCrop')

    def apply(self, batch):
        h, w = self.size
        height, width = batch.shape[-2:]
        if h > height or w > width:
            batch = _pad(batch, _center_padding(height, width, h, w))
            height, width = batch.shape[-2:]
        top, left = int(round((height - h) / 2.0)), int(round((width - w) / 2.0))
        return batch[:, :, top:top + h, left:left + w].copy()

    def apply_pil(self, img):
        h, w = self.size
        height, width = pil_ops.image_size(img)
        if h > height or w > width:
            img = pil_ops.pad(img, _center_padding(height, width, h, w))
            height, width = pil_ops.image_size(img)
            if (h, w) == (height, width):
                return img
        top, left = int(round((height - h) / 2.0)), int(round((width - w) / 2.0))
        return pil_ops.crop(img, top, left, h, w)

    def _args(self):
        return f'size={self.size}'


class Pad(Transform):
    """Pad every side: ``padding`` an int, (left/right, top/bottom) or (left, top, right,
    bottom); ``padding_mode`` 'constant' (with ``fill``), 'edge', 'reflect' or 'symmetric'."""

    def __init__(self, padding, fill=0, padding_mode='constant'):
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    @property
    def exact_on_batches(self):
        return self.padding_mode != 'constant' or self.fill == 0

    def apply(self, batch):
        return _pad(batch, self.padding, self.fill, self.padding_mode, 'Pad')

    def apply_pil(self, img):
        return pil_ops.pad(img, self.padding, self.fill, self.padding_mode)

    def _args(self):
        return f'padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}'


class RandomCrop(RandomTransform):
    """A random (h, w) window of each image, after optional padding (torchvision's arguments)."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode='constant',
                 seed=None):
        super().__init__(seed)
        self.size = _pair(size, 'RandomCrop')
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @property
    def exact_on_batches(self):
        return self.padding_mode != 'constant' or self.fill == 0

    def apply(self, batch):
        if self.padding is not None:
            batch = _pad(batch, self.padding, self.fill, self.padding_mode, 'RandomCrop')
        h, w = self.size
        height, width = batch.shape[-2:]
        if self.pad_if_needed and (height < h or width < w):
            # torchvision pads the missing amount on both sides
            grow_w, grow_h = max(w - width, 0), max(h - height, 0)
            batch = _pad(batch, (grow_w, grow_h), self.fill, self.padding_mode, 'RandomCrop')
            height, width = batch.shape[-2:]
        if height < h or width < w:
            raise ValueError(f'RandomCrop: crop size {(h, w)} is larger than the image '
                             f'{(height, width)} (padding={self.padding}); pass '
                             f'pad_if_needed=True or a smaller size')
        n = batch.shape[0]
        gen = self.generator
        top = gen.integers(0, height - h + 1, size=n)
        left = gen.integers(0, width - w + 1, size=n)
        return _crop(batch, top, left, h, w)

    def apply_pil(self, img):
        if self.padding is not None:
            img = pil_ops.pad(img, self.padding, self.fill, self.padding_mode)
        h, w = self.size
        height, width = pil_ops.image_size(img)
        if self.pad_if_needed and width < w:
            img = pil_ops.pad(img, (w - width, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and height < h:
            img = pil_ops.pad(img, (0, h - height), self.fill, self.padding_mode)
        height, width = pil_ops.image_size(img)
        if height < h or width < w:
            raise ValueError(f'RandomCrop: required crop size {(h, w)} is larger than the input '
                             f'image size {(height, width)}')
        top = int(self.generator.integers(0, height - h + 1))
        left = int(self.generator.integers(0, width - w + 1))
        return pil_ops.crop(img, top, left, h, w)

    def _args(self):
        return f'size={self.size}, padding={self.padding}'


class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left-right with probability p."""
    exact_on_batches = True

    def __init__(self, p=0.5, seed=None):
        super().__init__(seed)
        self.p = p

    def apply(self, batch):
        flip = self.generator.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1]
        return out

    def apply_pil(self, img):
        return pil_ops.hflip(img) if self.generator.random() < self.p else img

    def _args(self):
        return f'p={self.p}'


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror each image top-bottom with probability p."""

    def apply(self, batch):
        flip = self.generator.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1, :]
        return out

    def apply_pil(self, img):
        return pil_ops.vflip(img) if self.generator.random() < self.p else img


class RandomResizedCrop(RandomTransform):
    """A random box of each image (area fraction in ``scale``, aspect ratio in ``ratio``)
    resized to ``size`` with bilinear interpolation: torchvision's box sampling, ten
    tries per image and then a central box, drawn for the whole batch at once."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True, seed=None):
        super().__init__(seed)
        self.size = _pair(size, 'RandomResizedCrop')
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f'RandomResizedCrop: scale and ratio must be (min, max), '
                             f'got scale={scale}, ratio={ratio}')
        self.interpolation = _interpolation(interpolation, 'RandomResizedCrop')
        self.scale, self.ratio, self.antialias = tuple(scale), tuple(ratio), antialias

    def get_params(self, n, height, width, tries=10):
        """Boxes (top, left, h, w), each an int64 array (n,)."""
        gen = self.generator
        area = height * width
        target_area = area * gen.uniform(self.scale[0], self.scale[1], (n, tries))
        log_ratio = np.log(self.ratio)
        aspect = np.exp(gen.uniform(log_ratio[0], log_ratio[1], (n, tries)))
        w = np.round(np.sqrt(target_area * aspect)).astype(np.int64)
        h = np.round(np.sqrt(target_area / aspect)).astype(np.int64)
        fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        first = np.argmax(fits, axis=1)
        found = fits[np.arange(n), first]
        w, h = w[np.arange(n), first], h[np.arange(n), first]
        # the fallback: the whole image, cut to the nearest allowed aspect ratio, centred
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            fw, fh = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            fw, fh = int(round(height * self.ratio[1])), height
        else:
            fw, fh = width, height
        w, h = np.where(found, w, fw), np.where(found, h, fh)
        top = np.floor(gen.random(n) * (height - h + 1)).astype(np.int64)
        left = np.floor(gen.random(n) * (width - w + 1)).astype(np.int64)
        top = np.where(found, top, (height - h) // 2)
        left = np.where(found, left, (width - w) // 2)
        return top, left, h, w

    def apply(self, batch):
        _check_array_interpolation(self.interpolation, 'RandomResizedCrop')
        n, _, height, width = batch.shape
        top, left, h, w = self.get_params(n, height, width)
        return _resample(batch, top, left, h, w, *self.size, bool(self.antialias))

    def apply_pil(self, img):
        top, left, h, w = (int(v[0]) for v in self.get_params(1, *pil_ops.image_size(img)))
        return pil_ops.resize(pil_ops.crop(img, top, left, h, w), self.size, self.interpolation)

    def _args(self):
        return f'size={self.size}, scale={self.scale}, ratio={self.ratio}'


# ---------------------------------------------------------------- colour
# The adjustments follow torchvision.transforms.functional on float images; each takes
# a batch (N, C, H, W) (or one image) and a factor per image (or one for all).

def _batchwise(fn):
    def wrapper(img, factor):
        single = img.ndim == 3
        batch = img[None] if single else img
        factor = np.asarray(factor, dtype=np.float32).reshape(-1, 1, 1, 1)
        out = fn(batch, factor)
        return out[0] if single else out
    wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
    return wrapper


def _check_channels(img, name):
    if img.shape[-3] not in (1, 3):
        raise ValueError(f'{name}: expects 1 or 3 channels, got {img.shape[-3]} '
                         f'(shape {img.shape})')


def rgb_to_grayscale(img):
    """Luma 0.2989 R + 0.587 G + 0.114 B, keeping a channel axis of size 1."""
    _check_channels(img, 'rgb_to_grayscale')
    if img.shape[-3] == 1:
        return img
    r, g, b = img[..., 0:1, :, :], img[..., 1:2, :, :], img[..., 2:3, :, :]
    return 0.2989 * r + 0.587 * g + 0.114 * b


def _blend(img1, img2, ratio):
    return np.clip(ratio * img1 + (1 - ratio) * img2, 0, 1)


@_batchwise
def adjust_brightness(batch, factor):
    """``clip(factor * img, 0, 1)``: 0 gives black, 1 the image itself."""
    return np.clip(factor * batch, 0, 1)


@_batchwise
def adjust_contrast(batch, factor):
    """Blend with the mean grey level of each image: 0 gives a flat grey image."""
    _check_channels(batch, 'adjust_contrast')
    mean = rgb_to_grayscale(batch).mean(axis=(1, 2, 3), keepdims=True)
    return _blend(batch, mean, factor)


@_batchwise
def adjust_saturation(batch, factor):
    """Blend with the grey version of each image: 0 gives grey, 1 the image (grey images: no-op)."""
    _check_channels(batch, 'adjust_saturation')
    if batch.shape[1] == 1:
        return batch
    return _blend(batch, rgb_to_grayscale(batch), factor)


def rgb_to_hsv(img):
    """RGB in [0, 1] -> (hue in [0, 1), saturation, value) along the channel axis."""
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc, minc = img.max(axis=-3), img.min(axis=-3)
    equal = maxc == minc
    chroma = maxc - minc
    s = chroma / np.where(equal, 1, maxc)
    divisor = np.where(equal, 1, chroma)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    h = ((maxc == r) * (bc - gc)
         + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
         + ((maxc != g) & (maxc != r)) * (4.0 + gc - rc))
    h = np.fmod(h / 6.0 + 1.0, 1.0)
    return np.stack((h, s, maxc), axis=-3).astype(img.dtype, copy=False)


def hsv_to_rgb(img):
    """(hue, saturation, value) -> RGB, the inverse of ``rgb_to_hsv``."""
    h, s, v = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    sector = np.floor(h * 6.0)
    f = h * 6.0 - sector
    sector = sector.astype(np.int64) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    # (r, g, b) for each of the six sectors of the hue circle
    r = np.choose(sector, (v, q, p, p, t, v))
    g = np.choose(sector, (t, v, v, q, p, p))
    b = np.choose(sector, (p, p, t, v, v, q))
    return np.stack((r, g, b), axis=-3).astype(img.dtype, copy=False)


@_batchwise
def adjust_hue(batch, factor):
    """Turn the hue by ``factor`` (in [-0.5, 0.5], a fraction of the colour circle)."""
    _check_channels(batch, 'adjust_hue')
    if batch.shape[1] == 1:
        return batch
    if np.any(np.abs(factor) > 0.5):
        raise ValueError(f'adjust_hue: hue factors must lie in [-0.5, 0.5], '
                         f'got {factor.reshape(-1).tolist()}')
    hsv = rgb_to_hsv(batch)
    hsv[:, 0] = np.mod(hsv[:, 0] + factor[:, 0], 1.0)
    return hsv_to_rgb(hsv)


def _jitter_range(name, value, center=1.0, bound=(0.0, math.inf), clip_first_on_zero=True):
    """torchvision's reading of a ColorJitter argument: v means [center - v, center + v]."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f'ColorJitter: {name} must be non-negative, got {value}')
        value = [center - float(value), center + float(value)]
        if clip_first_on_zero:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f'ColorJitter: {name} must be a number or a pair (min, max), got {value!r}')
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f'ColorJitter: {name} values must lie within {bound}, got {value}')
    if value[0] == value[1] == center:
        return None
    return tuple(value)


class ColorJitter(RandomTransform):
    """Random brightness, contrast, saturation and hue changes, in a random order per image.

    As in torchvision, brightness b draws a factor from [max(0, 1 - b), 1 + b] (likewise
    contrast and saturation), hue h a shift from [-h, h] (h <= 0.5); a pair (min, max)
    gives the range itself. Saturation and hue leave 1-channel images as they are.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, seed=None):
        super().__init__(seed)
        self.brightness = _jitter_range('brightness', brightness)
        self.contrast = _jitter_range('contrast', contrast)
        self.saturation = _jitter_range('saturation', saturation)
        self.hue = _jitter_range('hue', hue, center=0.0, bound=(-0.5, 0.5),
                                 clip_first_on_zero=False)

    _adjustments = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)

    def apply(self, batch):
        _check_channels(batch, 'ColorJitter')
        n = batch.shape[0]
        gen = self.generator
        order = np.argsort(gen.random((n, 4)), axis=1)   # a random order of the 4 per image
        ranges = (self.brightness, self.contrast, self.saturation, self.hue)
        factors = [None if r is None else gen.uniform(r[0], r[1], n).astype(np.float32)
                   for r in ranges]
        out = batch.copy()
        for step in range(4):
            for k, adjust in enumerate(self._adjustments):
                if factors[k] is None:
                    continue
                chosen = order[:, step] == k
                if chosen.any():
                    out[chosen] = adjust(out[chosen], factors[k][chosen])
        return out

    _pil_adjustments = (pil_ops.adjust_brightness, pil_ops.adjust_contrast,
                        pil_ops.adjust_saturation, pil_ops.adjust_hue)

    def apply_pil(self, img):
        gen = self.generator
        order = np.argsort(gen.random(4))
        ranges = (self.brightness, self.contrast, self.saturation, self.hue)
        factors = [None if r is None else float(gen.uniform(r[0], r[1])) for r in ranges]
        for k in order:
            if factors[k] is not None:
                img = self._pil_adjustments[k](img, factors[k])
        return img

    def _args(self):
        return (f'brightness={self.brightness}, contrast={self.contrast}, '
                f'saturation={self.saturation}, hue={self.hue}')
