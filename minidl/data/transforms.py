"""Image transforms on NumPy arrays, with torchvision's names, arguments and numerics.

Every transform takes one float image ``(C, H, W)`` or a whole batch ``(N, C, H, W)``
and returns the same layout. On a batch, a random transform draws independent
parameters for each image (a crop position, a flip, jitter factors ...) and applies
them all with array operations: no Python loop runs over images or pixels.

Randomness: a random transform built with ``seed=`` owns a generator seeded with it.
Without one it draws from minidl's CPU generator (``minidl.manual_seed`` makes it
repeatable), or, inside a ``use_generator(g)`` block, from ``g``: the DataLoader uses
that to give every batch its own generator, so augmentation does not depend on the
timing of its prefetch thread and repeats exactly when a run is resumed.

``ToTensor`` turns uint8 images ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)`` into float32
``(C, H, W)`` / ``(N, C, H, W)`` in [0, 1]; the datasets in ``minidl.data.datasets``
already return such float images, and ``ToTensor`` passes float arrays through, so
torchvision pipelines like ``Compose([ToTensor(), Normalize(...)])`` work unchanged.
"""
import math
import numbers

import numpy as np

from .rng import current_generator, use_generator

__all__ = ['Compose', 'ToTensor', 'Normalize', 'Resize', 'CenterCrop', 'RandomCrop',
           'RandomHorizontalFlip', 'RandomVerticalFlip', 'RandomResizedCrop', 'ColorJitter',
           'use_generator', 'supports_batches', 'rgb_to_grayscale', 'rgb_to_hsv', 'hsv_to_rgb',
           'adjust_brightness', 'adjust_contrast', 'adjust_saturation', 'adjust_hue']

def supports_batches(transform):
    """True when ``transform`` accepts a batch ``(N, C, H, W)`` (every minidl transform does)."""
    return transform is None or bool(getattr(transform, 'batched', False))


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
    """A transform of float images: subclasses write ``apply(batch)`` for a batch (N, C, H, W)."""
    batched = True

    def __call__(self, img):
        img = _check_image(img, type(self).__name__)
        if img.ndim == 3:
            return self.apply(img[None])[0]
        return self.apply(img)

    def apply(self, batch):
        raise NotImplementedError(f'{type(self).__name__} must define apply(batch)')

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
    """Apply ``transforms`` one after another."""

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
    """uint8 ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)`` -> float32 channels-first in [0, 1].

    Float arrays are taken to be channels-first already and come back as float32.
    """
    batched = True

    def __call__(self, pic):
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
            return out
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


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` for every channel c."""

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

def _source_index(start, length, out_size):
    """Bilinear sampling positions, as PyTorch's ``interpolate(align_corners=False)``.

    Output pixel d of a box (start, length) resized to out_size samples the source at
    s = (d + 0.5) * length / out_size - 0.5, clamped at 0: between pixels floor(s) and
    floor(s) + 1 (kept inside the box) with weight frac = s - floor(s) on the second.
    """
    scale = length.astype(np.float64)[:, None] / out_size
    s = np.maximum((np.arange(out_size) + 0.5) * scale - 0.5, 0.0)
    i0 = s.astype(np.int64)
    i1 = np.minimum(i0 + 1, length[:, None] - 1)
    frac = (s - i0).astype(np.float32)
    return start[:, None] + i0, start[:, None] + i1, frac


def _take_rows(batch, rows):
    """``batch[n, :, rows[n], :]`` for every n: (N, C, H, W), rows (N, k) -> (N, C, k, W)."""
    n = np.arange(batch.shape[0])[:, None, None]
    c = np.arange(batch.shape[1])[None, :, None]
    return batch[n, c, rows[:, None, :]]


def _resample(batch, top, left, height, width, out_h, out_w):
    """Bilinear resize of the box (top, left, height, width) of each image to (out_h, out_w).

    The boxes are arrays (N,), one per image; rows are interpolated first, then columns.
    """
    y0, y1, fy = _source_index(top, height, out_h)
    x0, x1, fx = _source_index(left, width, out_w)
    fy = fy[:, None, :, None]
    rows = _take_rows(batch, y0) * (1 - fy) + _take_rows(batch, y1) * fy       # (N, C, oh, W)
    rows = rows.swapaxes(2, 3)                                                  # (N, C, W, oh)
    fx = fx[:, None, :, None]
    out = _take_rows(rows, x0) * (1 - fx) + _take_rows(rows, x1) * fx          # (N, C, ow, oh)
    return np.ascontiguousarray(out.swapaxes(2, 3)).astype(batch.dtype, copy=False)


def _crop(batch, top, left, h, w):
    """The h x w window at (top[n], left[n]) of each image n, as one strided gather."""
    windows = np.lib.stride_tricks.sliding_window_view(batch, (h, w), axis=(2, 3))
    return windows[np.arange(batch.shape[0]), :, top, left]  # (N, C, h, w)


def _pad(batch, padding, fill=0, mode='constant', name='pad'):
    """Pad the last two axes by ``padding``: an int, (left/right, top/bottom) or (l, t, r, b)."""
    if isinstance(padding, numbers.Integral):
        left = top = right = bottom = int(padding)
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


class Resize(Transform):
    """Resize with bilinear interpolation.

    ``size`` (h, w) gives the output size; an int matches the smaller edge to it and keeps
    the aspect ratio, as torchvision. Like ``antialias=False``: shrinking by a large
    factor samples rather than averages.
    """

    def __init__(self, size, interpolation='bilinear'):
        if interpolation != 'bilinear':
            raise ValueError(f"Resize: only interpolation='bilinear' is supported, "
                             f"got {interpolation!r}")
        if isinstance(size, numbers.Integral) or (isinstance(size, (tuple, list))
                                                  and len(size) == 1):
            self.size = int(size if isinstance(size, numbers.Integral) else size[0])
            if self.size <= 0:
                raise ValueError(f'Resize: size must be positive, got {size}')
        else:
            self.size = _pair(size, 'Resize')
        self.interpolation = interpolation

    def output_size(self, height, width):
        if isinstance(self.size, tuple):
            return self.size
        short, long = (height, width) if height <= width else (width, height)
        new_short, new_long = self.size, int(self.size * long / short)
        return (new_short, new_long) if height <= width else (new_long, new_short)

    def apply(self, batch):
        n, _, height, width = batch.shape
        out_h, out_w = self.output_size(height, width)
        if (out_h, out_w) == (height, width):
            return batch.copy()
        zeros = np.zeros(n, dtype=np.int64)
        return _resample(batch, zeros, zeros, np.full(n, height), np.full(n, width), out_h, out_w)

    def _args(self):
        return f'size={self.size}'


class CenterCrop(Transform):
    """The central (h, w) window; an image smaller than that is zero-padded first."""

    def __init__(self, size):
        self.size = _pair(size, 'CenterCrop')

    def apply(self, batch):
        h, w = self.size
        height, width = batch.shape[-2:]
        if h > height or w > width:
            pad_w, pad_h = max(w - width, 0), max(h - height, 0)
            batch = _pad(batch, (pad_w // 2, pad_h // 2, (pad_w + 1) // 2, (pad_h + 1) // 2))
            height, width = batch.shape[-2:]
        top, left = int(round((height - h) / 2.0)), int(round((width - w) / 2.0))
        return batch[:, :, top:top + h, left:left + w].copy()

    def _args(self):
        return f'size={self.size}'


class RandomCrop(RandomTransform):
    """A random (h, w) window of each image, after optional padding (torchvision's arguments)."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode='constant',
                 seed=None):
        super().__init__(seed)
        self.size = _pair(size, 'RandomCrop')
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

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

    def _args(self):
        return f'size={self.size}, padding={self.padding}'


class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left-right with probability p."""

    def __init__(self, p=0.5, seed=None):
        super().__init__(seed)
        self.p = p

    def apply(self, batch):
        flip = self.generator.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1]
        return out

    def _args(self):
        return f'p={self.p}'


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror each image top-bottom with probability p."""

    def apply(self, batch):
        flip = self.generator.random(batch.shape[0]) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1, :]
        return out


class RandomResizedCrop(RandomTransform):
    """A random box of each image (area fraction in ``scale``, aspect ratio in ``ratio``)
    resized to ``size`` with bilinear interpolation: torchvision's box sampling, ten
    tries per image and then a central box, drawn for the whole batch at once."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation='bilinear', seed=None):
        super().__init__(seed)
        self.size = _pair(size, 'RandomResizedCrop')
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f'RandomResizedCrop: scale and ratio must be (min, max), '
                             f'got scale={scale}, ratio={ratio}')
        if interpolation != 'bilinear':
            raise ValueError(f"RandomResizedCrop: only interpolation='bilinear' is supported, "
                             f"got {interpolation!r}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)

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
        n, _, height, width = batch.shape
        top, left, h, w = self.get_params(n, height, width)
        return _resample(batch, top, left, h, w, *self.size)

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

    def _args(self):
        return (f'brightness={self.brightness}, contrast={self.contrast}, '
                f'saturation={self.saturation}, hue={self.hue}')
