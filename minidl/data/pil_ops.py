"""Image operations on PIL images, as torchvision's ``_functional_pil`` performs them.

The transforms in ``transforms.py`` call these when they are given a PIL image, so that
a torchvision pipeline (random crops, flips, colour jitter on PIL images, then
``ToTensor``) gives what torchvision gives: every pixel operation is Pillow's own
(``Image.resize``, ``Image.crop``, ``ImageEnhance``, HSV conversion), with torchvision's
arguments around it. Sizes are (height, width) as in torchvision; PIL's are (width, height).
"""
import numbers
import sys

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

__all__ = ['is_pil_image', 'image_size', 'image_channels', 'to_float_array', 'to_uint8_array',
           'to_pil_image', 'resize', 'crop', 'pad', 'hflip', 'vflip', 'adjust_brightness',
           'adjust_contrast', 'adjust_saturation', 'adjust_hue', 'PIL_RESAMPLING']

# torchvision's InterpolationMode values -> Pillow's resampling filters
PIL_RESAMPLING = {
    'nearest': Image.Resampling.NEAREST,
    'bilinear': Image.Resampling.BILINEAR,
    'bicubic': Image.Resampling.BICUBIC,
    'box': Image.Resampling.BOX,
    'hamming': Image.Resampling.HAMMING,
    'lanczos': Image.Resampling.LANCZOS,
}

# the NumPy type of a PIL mode's pixels (uint8 for the others), as torchvision reads them
_MODE_DTYPES = {'I': np.int32, 'I;16' if sys.byteorder == 'little' else 'I;16B': np.int16,
                'F': np.float32}


def is_pil_image(img):
    return isinstance(img, Image.Image)


def image_size(img):
    """(height, width)."""
    return img.size[1], img.size[0]


def image_channels(img):
    return len(img.getbands())


def to_uint8_array(img):
    """The pixels as an array (C, H, W) of the mode's type (uint8 for 'L', 'RGB' ...)."""
    array = np.array(img, dtype=_MODE_DTYPES.get(img.mode, np.uint8), copy=True)
    if img.mode == '1':
        array = array * np.uint8(255)
    return array.reshape(img.size[1], img.size[0], image_channels(img)).transpose(2, 0, 1)


def to_float_array(img):
    """torchvision's ``to_tensor`` on a PIL image: float32 (C, H, W), uint8 pixels / 255."""
    array = np.ascontiguousarray(to_uint8_array(img))
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    return array


def to_pil_image(array, mode=None):
    """torchvision's ``to_pil_image`` on an array (C, H, W) (or (H, W)): floats are scaled
    by 255 and truncated to uint8 (``mode='F'`` keeps them); 1, 2, 3, 4 channels give
    'L', 'LA', 'RGB', 'RGBA'."""
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f'pic should be 2/3 dimensional. Got {array.ndim} dimensions.')
    if array.shape[0] > 4:
        raise ValueError(f'pic should not have > 4 channels. Got {array.shape[0]} channels.')
    array = array.transpose(1, 2, 0)
    if array.dtype.kind == 'f' and mode != 'F':
        array = (array * 255).astype(np.uint8)
    channels = array.shape[2]
    if channels == 1:
        array = array[:, :, 0]
        expected = {np.dtype(np.uint8): 'L', np.dtype(np.int16): 'I;16',
                    np.dtype(np.int32): 'I', np.dtype(np.float32): 'F'}.get(array.dtype)
        if mode is not None and mode != expected:
            raise ValueError(f'Incorrect mode ({mode}) supplied for input type {array.dtype}. '
                             f'Should be {expected}')
        mode = expected
    elif mode is None and array.dtype == np.uint8:
        mode = {2: 'LA', 3: 'RGB', 4: 'RGBA'}[channels]
    if mode is None:
        raise TypeError(f'Input type {array.dtype} is not supported')
    return Image.fromarray(np.ascontiguousarray(array), mode=mode)


def resize(img, size, interpolation='bilinear'):
    """Resize to ``size`` (height, width) with Pillow's filter (antialiased when shrinking)."""
    height, width = size
    return img.resize((width, height), PIL_RESAMPLING[interpolation])


def crop(img, top, left, height, width):
    """The box at (top, left); parts outside the image are black, as Pillow's crop gives."""
    return img.crop((left, top, left + width, top + height))


def _fill_of(fill, img):
    bands = image_channels(img)
    if isinstance(fill, (int, float)) and bands > 1:
        return tuple([fill] * bands)
    if isinstance(fill, (list, tuple)):
        if len(fill) != bands:
            raise ValueError(f"The number of elements in 'fill' does not match the number of "
                             f"bands of the image ({len(fill)} != {bands})")
        return tuple(fill)
    return fill


def pad(img, padding, fill=0, padding_mode='constant'):
    """Pad by ``padding``: an int, (left/right, top/bottom) or (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        left = top = right = bottom = int(padding)
    elif len(padding) == 1:
        left = top = right = bottom = int(padding[0])
    elif len(padding) == 2:
        left = right = int(padding[0])
        top = bottom = int(padding[1])
    elif len(padding) == 4:
        left, top, right, bottom = (int(p) for p in padding)
    else:
        raise ValueError(f'Padding must be an int or a 1, 2, or 4 element tuple, not a '
                         f'{len(padding)} element tuple')
    if padding_mode == 'constant':
        if img.mode == 'P':
            palette = img.getpalette()
            out = ImageOps.expand(img, border=(left, top, right, bottom),
                                  fill=_fill_of(fill, img))
            out.putpalette(palette)
            return out
        return ImageOps.expand(img, border=(left, top, right, bottom), fill=_fill_of(fill, img))
    if padding_mode not in ('edge', 'reflect', 'symmetric'):
        raise ValueError('Padding mode should be either constant, edge, reflect or symmetric')
    array = np.asarray(img)
    widths = ((top, bottom), (left, right)) + (((0, 0),) if array.ndim == 3 else ())
    return Image.fromarray(np.pad(array, widths, padding_mode))


def hflip(img):
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def vflip(img):
    return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def adjust_brightness(img, factor):
    return ImageEnhance.Brightness(img).enhance(factor)


def adjust_contrast(img, factor):
    return ImageEnhance.Contrast(img).enhance(factor)


def adjust_saturation(img, factor):
    return ImageEnhance.Color(img).enhance(factor)


def adjust_hue(img, factor):
    """Turn the hue by ``factor`` (a fraction of the circle, in [-0.5, 0.5]) in Pillow's
    8-bit HSV: hue + int(factor * 255), wrapping modulo 256 (torchvision's uint8
    overflow). Grey and non-colour images come back unchanged."""
    if not -0.5 <= factor <= 0.5:
        raise ValueError(f'hue_factor ({factor}) is not in [-0.5, 0.5].')
    if img.mode in {'L', '1', 'I', 'F'}:
        return img
    h, s, v = img.convert('HSV').split()
    shift = np.uint8(int(factor * 255) % 256)
    hue = (np.array(h, dtype=np.uint8) + shift).astype(np.uint8)   # wraps, as uint8 does
    return Image.merge('HSV', (Image.fromarray(hue, 'L'), s, v)).convert(img.mode)
