import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl.data import transforms as T
from tests.parity import require_torch

pytestmark = pytest.mark.cpu_only


def batch(n=4, c=3, h=6, w=7, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


# ---------------------------------------------------------------- ToTensor, Normalize

def test_to_tensor_layouts_and_scale():
    hw = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = T.ToTensor()(hw)
    assert out.shape == (1, 3, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], hw.astype(np.float32) / 255)

    hwc = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    out = T.ToTensor()(hwc)
    assert out.shape == (3, 5, 6)
    np.testing.assert_array_equal(out, hwc.transpose(2, 0, 1) / np.float32(255))
    assert out.min() >= 0 and out.max() <= 1

    nhwc = np.stack([hwc, 255 - hwc])
    out = T.ToTensor()(nhwc)
    assert out.shape == (2, 3, 5, 6)
    np.testing.assert_array_equal(out[1], (255 - hwc).transpose(2, 0, 1) / np.float32(255))


def test_to_tensor_passes_float_images_and_rejects_other_types():
    x = batch(1)[0]
    assert T.ToTensor()(x) is x
    with pytest.raises(TypeError, match='ToTensor'):
        T.ToTensor()(np.zeros((3, 4, 4), dtype=np.int32))


def test_normalize_per_channel():
    x = batch()
    out = T.Normalize([0.1, 0.2, 0.3], [0.5, 2.0, 4.0])(x)
    expected = (x - np.array([0.1, 0.2, 0.3], np.float32)[:, None, None]) \
        / np.array([0.5, 2.0, 4.0], np.float32)[:, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.dtype == np.float32
    one = T.Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])(x[0])
    np.testing.assert_allclose(one, (x[0] - 0.5) / 0.25, rtol=1e-6)


def test_normalize_inplace_and_errors():
    x = batch()
    expected = (x - 0.5) / 2
    y = x.copy()
    out = T.Normalize([0.5], [2.0], inplace=True)(y)
    assert out is y
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r'Normalize: 2 mean values for an image with 3 channels'):
        T.Normalize([0.5, 0.5], [1, 1])(x)
    with pytest.raises(ValueError, match='std must not contain zeros'):
        T.Normalize([0.5], [0.0])


def test_transforms_reject_uint8_and_bad_shapes():
    with pytest.raises(ValueError, match='Resize: .*ToTensor'):
        T.Resize(4)(np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r'CenterCrop: .*got shape \(8, 8\)'):
        T.CenterCrop(4)(np.zeros((8, 8), np.float32))


# ---------------------------------------------------------------- Resize

def test_resize_matches_hand_computed_bilinear():
    # upsampling [[0, 1], [2, 3]] by 2: along each axis the samples fall at source
    # positions 0 (clamped), 0.25, 0.75, 1 (clamped), so values are linear in them
    x = np.array([[[0, 1], [2, 3]]], dtype=np.float32)
    r = np.array([0, 0.25, 0.75, 1], np.float32)
    out = T.Resize((4, 4))(x)
    np.testing.assert_allclose(out[0], 2 * r[:, None] + r[None, :], atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(h=st.integers(2, 9), w=st.integers(2, 9), oh=st.integers(1, 12), ow=st.integers(1, 12))
def test_resize_without_antialias_matches_torch_interpolate(h, w, oh, ow):
    torch = require_torch()
    x = batch(2, 2, h, w, seed=h * 10 + w)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=(oh, ow),
                                               mode='bilinear', align_corners=False).numpy()
    out = T.Resize((oh, ow), antialias=False)(x)
    assert out.shape == (2, 2, oh, ow) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(h=st.integers(2, 9), w=st.integers(2, 9), oh=st.integers(1, 12), ow=st.integers(1, 12))
def test_antialiased_resize_matches_pillow(h, w, oh, ow):
    """torchvision's default, antialias=True, follows Pillow's filter; Pillow resizes
    float ('F') images without rounding, so it is the reference plane by plane. (PyTorch's
    interpolate(antialias=True) agrees except for its CPU kernel's bug on an output one
    pixel wide that is upsampled in the other direction: (2, 2) -> (3, 1) gives the same
    value in every row.)"""
    from PIL import Image
    x = batch(2, 2, h, w, seed=h * 10 + w)
    expected = np.array([[np.asarray(Image.fromarray(plane, mode='F').resize(
        (ow, oh), Image.Resampling.BILINEAR)) for plane in image] for image in x])
    out = T.Resize((oh, ow))(x)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_antialiased_resize_matches_torch_interpolate():
    torch = require_torch()
    x = batch(2, 3, 17, 23)
    for size in [(5, 7), (30, 9), (17, 40)]:
        expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=size,
                                                   mode='bilinear', antialias=True).numpy()
        np.testing.assert_allclose(T.Resize(size)(x), expected, atol=1e-5)


def test_resize_int_matches_smaller_edge():
    assert T.Resize(5)(batch(h=10, w=12)).shape == (4, 3, 5, 6)
    assert T.Resize(5)(batch(h=12, w=10)).shape == (4, 3, 6, 5)
    x = batch(h=6, w=6)
    np.testing.assert_array_equal(T.Resize(6)(x), x)


# ---------------------------------------------------------------- crops and flips

def test_center_crop_positions_and_padding():
    x = np.arange(2 * 1 * 5 * 6, dtype=np.float32).reshape(2, 1, 5, 6)
    out = T.CenterCrop((3, 2))(x)
    np.testing.assert_array_equal(out, x[:, :, 1:4, 2:4])
    # an image smaller than the crop is zero-padded around it, as torchvision does
    out = T.CenterCrop((7, 6))(x[0])
    assert out.shape == (1, 7, 6)
    np.testing.assert_array_equal(out[:, 1:6], x[0])
    assert not out[:, 0].any() and not out[:, 6].any()


def test_random_crop_is_a_window_of_the_padded_image():
    x = np.arange(8 * 2 * 5 * 5, dtype=np.float32).reshape(8, 2, 5, 5)
    crop = T.RandomCrop(4, padding=2, seed=0)
    out = crop(x)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    positions = set()
    for n in range(8):   # find each crop in its padded image
        matches = [(t, l) for t in range(6) for l in range(6)
                   if np.array_equal(padded[n, :, t:t + 4, l:l + 4], out[n])]
        assert matches, f'image {n} is not a window of its padded image'
        positions.add(matches[0])
    assert len(positions) > 1   # positions drawn per image
    np.testing.assert_array_equal(T.RandomCrop(4, padding=2, seed=0)(x), out)


def test_random_crop_full_size_equals_padding():
    x = batch(2, 1, 3, 4)
    np.testing.assert_array_equal(T.RandomCrop((5, 8), padding=(2, 1))(x),
                                  np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2))))
    np.testing.assert_array_equal(T.RandomCrop((6, 8), padding=(1, 2, 3, 1))(x),
                                  np.pad(x, ((0, 0), (0, 0), (2, 1), (1, 3))))
    np.testing.assert_array_equal(
        T.RandomCrop((5, 6), padding=1, padding_mode='reflect')(x),
        np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode='reflect'))
    out = T.RandomCrop((3, 4), padding=1, fill=0.5, seed=1)(np.zeros((6, 1, 3, 4), np.float32))
    assert set(np.unique(out)) <= {0.0, 0.5}


def test_random_crop_too_large():
    x = batch(1, 1, 3, 3)
    with pytest.raises(ValueError, match=r'RandomCrop: crop size \(5, 5\) is larger than'):
        T.RandomCrop(5)(x)
    assert T.RandomCrop(5, pad_if_needed=True)(x).shape == (1, 1, 5, 5)


def test_flips():
    x = batch(16)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(x), x[..., ::-1, :])
    out = T.RandomHorizontalFlip(seed=3)(x)
    flipped = [np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, x)]
    kept = [np.array_equal(o, xi) for o, xi in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert any(flipped) and any(kept)


def test_random_resized_crop_resizes_each_images_own_box():
    x = batch(6, 3, 12, 10)
    crop = T.RandomResizedCrop(5, scale=(0.2, 0.9), seed=4)
    top, left, h, w = crop.get_params(6, 12, 10)
    assert np.all(top >= 0) and np.all(top + h <= 12)
    assert np.all(left >= 0) and np.all(left + w <= 10)
    out = T.RandomResizedCrop(5, scale=(0.2, 0.9), seed=4)(x)
    assert out.shape == (6, 3, 5, 5) and out.dtype == np.float32
    for n in range(6):
        box = x[n:n + 1, :, top[n]:top[n] + h[n], left[n]:left[n] + w[n]]
        np.testing.assert_allclose(out[n], T.Resize((5, 5))(box)[0], atol=1e-6)
    assert len({(int(a), int(b)) for a, b in zip(h, w)}) > 1


def test_random_resized_crop_box_statistics():
    crop = T.RandomResizedCrop(8, scale=(0.3, 0.6), ratio=(0.5, 2.0), seed=0)
    top, left, h, w = crop.get_params(500, 40, 40)
    area = h * w / 1600
    assert np.all((area > 0.25) & (area < 0.66))    # rounding moves edges by half a pixel
    aspect = w / h
    assert np.all((aspect > 0.4) & (aspect < 2.5))


def test_random_resized_crop_whole_image():
    x = batch(3, 1, 6, 6)
    out = T.RandomResizedCrop(4, scale=(1.0, 1.0), ratio=(1.0, 1.0))(x)
    np.testing.assert_allclose(out, T.Resize(4)(x), atol=1e-6)


# ---------------------------------------------------------------- colour

def pixel(*rgb):
    return np.array(rgb, dtype=np.float32).reshape(1, 3, 1, 1)


def test_adjust_brightness_contrast_saturation_by_hand():
    img = np.array([[[0.2, 0.8]], [[0.4, 0.6]], [[0.0, 1.0]]], np.float32)   # (3, 1, 2)
    np.testing.assert_allclose(T.adjust_brightness(img, 0.5), img * 0.5)
    np.testing.assert_allclose(T.adjust_brightness(img, 2.0), np.minimum(img * 2, 1))
    # grey levels of the two pixels and their mean
    grey = 0.2989 * img[0] + 0.587 * img[1] + 0.114 * img[2]
    mean = grey.mean()
    np.testing.assert_allclose(T.adjust_contrast(img, 0.0), np.full_like(img, mean), rtol=1e-6)
    np.testing.assert_allclose(T.adjust_contrast(img, 0.5), 0.5 * img + 0.5 * mean, rtol=1e-6)
    np.testing.assert_allclose(T.adjust_saturation(img, 0.0), np.broadcast_to(grey, img.shape),
                               rtol=1e-6)
    np.testing.assert_allclose(T.adjust_saturation(img, 1.5),
                               np.clip(1.5 * img - 0.5 * grey, 0, 1), rtol=1e-6, atol=1e-7)


def test_adjust_hue_by_hand():
    np.testing.assert_allclose(T.adjust_hue(pixel(1, 0, 0), 1 / 3), pixel(0, 1, 0), atol=1e-6)
    np.testing.assert_allclose(T.adjust_hue(pixel(1, 0, 0), 0.5), pixel(0, 1, 1), atol=1e-6)
    np.testing.assert_allclose(T.adjust_hue(pixel(0, 0, 1), -1 / 3), pixel(0, 1, 0), atol=1e-6)
    # orange (1, 0.5, 0) has hue 1/12; turned by 0.1 it is at 6h = 1.1, in the sector from
    # yellow to green, 0.1 of the way: red falls to 1 - 0.1
    np.testing.assert_allclose(T.adjust_hue(pixel(1, 0.5, 0), 0.1), pixel(0.9, 1, 0), atol=1e-6)
    grey = pixel(0.3, 0.3, 0.3)
    np.testing.assert_allclose(T.adjust_hue(grey, 0.4), grey, atol=1e-7)
    with pytest.raises(ValueError, match='adjust_hue'):
        T.adjust_hue(pixel(1, 0, 0), 0.7)


def test_hsv_round_trip_and_known_values():
    hsv = T.rgb_to_hsv(pixel(1, 0.5, 0))
    np.testing.assert_allclose(hsv.reshape(-1), [1 / 12, 1.0, 1.0], atol=1e-6)
    x = batch(3, 3, 5, 5)
    np.testing.assert_allclose(T.hsv_to_rgb(T.rgb_to_hsv(x)), x, atol=1e-6)
    assert T.rgb_to_hsv(x).dtype == np.float32


def test_color_jitter_fixed_factors_by_hand():
    img = np.array([[[0.2, 0.8]], [[0.4, 0.6]], [[0.0, 1.0]]], np.float32)
    np.testing.assert_allclose(T.ColorJitter(brightness=(0.5, 0.5))(img), img * 0.5)
    np.testing.assert_allclose(T.ColorJitter(saturation=(0.0, 0.0))(img),
                               T.adjust_saturation(img, 0.0))
    red = pixel(1, 0, 0)[0]
    np.testing.assert_allclose(T.ColorJitter(hue=(0.5, 0.5))(red), pixel(0, 1, 1)[0], atol=1e-6)


def test_color_jitter_independent_factor_per_image():
    x = np.tile(np.linspace(0.05, 0.5, 12, dtype=np.float32).reshape(1, 3, 2, 2), (32, 1, 1, 1))
    out = T.ColorJitter(brightness=0.5, seed=0)(x)
    ratio = out / x
    per_image = ratio.reshape(32, -1)
    np.testing.assert_allclose(per_image, per_image[:, :1] * np.ones_like(per_image), rtol=1e-5)
    factors = per_image[:, 0]
    assert np.all((factors >= 0.5) & (factors <= 1.5))
    assert np.unique(np.round(factors, 5)).size > 20


def test_color_jitter_grey_images_ignore_saturation_and_hue():
    x = batch(4, 1, 3, 3)
    np.testing.assert_array_equal(T.ColorJitter(saturation=0.9, hue=0.5, seed=0)(x), x)
    out = T.ColorJitter(brightness=0.5, contrast=0.5, seed=0)(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match='ColorJitter: expects 1 or 3 channels, got 2'):
        T.ColorJitter(brightness=0.1)(batch(1, 2, 3, 3))


def test_color_jitter_argument_checks():
    assert T.ColorJitter(brightness=0.4).brightness == (0.6, 1.4)
    assert T.ColorJitter(contrast=2).contrast == (0.0, 3.0)
    assert T.ColorJitter(hue=0.1).hue == (-0.1, 0.1)
    assert T.ColorJitter().brightness is None
    with pytest.raises(ValueError, match='hue'):
        T.ColorJitter(hue=0.6)
    with pytest.raises(ValueError, match='brightness must be non-negative'):
        T.ColorJitter(brightness=-1)


# ---------------------------------------------------------------- randomness, dtypes

RANDOM_TRANSFORMS = [
    lambda seed: T.RandomCrop(4, padding=1, seed=seed),
    lambda seed: T.RandomHorizontalFlip(seed=seed),
    lambda seed: T.RandomVerticalFlip(seed=seed),
    lambda seed: T.RandomResizedCrop(5, seed=seed),
    lambda seed: T.ColorJitter(0.4, 0.4, 0.4, 0.2, seed=seed),
]


@pytest.mark.parametrize('make', RANDOM_TRANSFORMS)
def test_seeded_transforms_repeat(make):
    x = batch(8)
    np.testing.assert_array_equal(make(7)(x), make(7)(x))
    t = make(7)
    assert not np.array_equal(t(x), t(x))   # the generator moves on


@pytest.mark.parametrize('make', RANDOM_TRANSFORMS)
def test_unseeded_transforms_follow_minidl_generator(make):
    x = batch(8)
    minidl.manual_seed(11)
    first = make(None)(x)
    minidl.manual_seed(11)
    np.testing.assert_array_equal(make(None)(x), first)
    with T.use_generator(np.random.default_rng(5)):
        a = make(None)(x)
    with T.use_generator(np.random.default_rng(5)):
        np.testing.assert_array_equal(make(None)(x), a)


@pytest.mark.parametrize('transform', [
    T.Normalize([0.5], [0.5]), T.Resize(4), T.CenterCrop(3), T.RandomCrop(3, padding=1),
    T.RandomHorizontalFlip(), T.RandomResizedCrop(4), T.ColorJitter(0.3, 0.3, 0.3, 0.1),
    T.Compose([T.RandomResizedCrop(5), T.RandomHorizontalFlip(), T.Normalize([0.5], [0.2])]),
])
def test_float32_stays_float32_single_and_batch(transform):
    x = batch(3, 3, 6, 6)
    out = transform(x)
    assert out.dtype == np.float32 and out.ndim == 4 and out.shape[0] == 3
    one = transform(x[0])
    assert one.dtype == np.float32 and one.shape == out.shape[1:]


def test_compose_and_supports_batches():
    pipeline = T.Compose([T.ToTensor(), T.Normalize([0.5], [0.5])])
    out = pipeline(np.full((2, 2), 255, np.uint8))
    np.testing.assert_allclose(out, np.ones((1, 2, 2)))
    assert T.supports_batches(pipeline)
    assert not T.supports_batches(T.Compose([T.ToTensor(), lambda x: x]))
    assert 'Normalize' in repr(pipeline)
