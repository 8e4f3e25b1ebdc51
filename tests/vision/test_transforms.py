"""torchvision.transforms on PIL images: torchvision's results, computed here from
Pillow by torchvision's documented rules (torchvision itself does not install beside
this PyTorch); and the PIL path against the array path where both must agree."""
import numpy as np
import pytest
from PIL import Image, ImageEnhance

import minidl
from minidl.data.transforms import batch_exact
from minidl.vision import transforms as T

pytestmark = pytest.mark.cpu_only


def rgb(h=30, w=45, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def grey(h=12, w=9, seed=1):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8))


def chw(img):
    array = np.asarray(img)
    return (array[None] if array.ndim == 2 else array.transpose(2, 0, 1)).astype(np.float32) / 255


# ---------------------------------------------------------------- conversions

def test_to_tensor_from_pil_and_uint8_arrays():
    for img in (rgb(), grey()):
        out = T.ToTensor()(img)
        assert isinstance(out, minidl.Tensor) and out.dtype == np.float32
        np.testing.assert_array_equal(out.numpy(), chw(img))
        np.testing.assert_array_equal(T.ToTensor()(np.asarray(img)).numpy(), chw(img))
    bits = Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)).convert('1')
    np.testing.assert_array_equal(T.ToTensor()(bits).numpy(), [[[0, 1], [1, 0]]])
    ints = Image.fromarray(np.array([[7, -3]], np.int32), mode='I')
    assert T.ToTensor()(ints).dtype == np.int32        # not scaled, as torchvision


def test_pil_to_tensor_and_to_pil_image():
    img = rgb()
    out = T.PILToTensor()(img)
    assert out.dtype == np.uint8 and out.shape == (3, 30, 45)
    np.testing.assert_array_equal(out.numpy(), np.asarray(img).transpose(2, 0, 1))
    np.testing.assert_array_equal(T.PILToTensor()(np.asarray(img)).numpy(), out.numpy())
    x = minidl.tensor(np.array([[[0.0, 0.5, 0.999, 1.0]]], np.float32))
    back = T.ToPILImage()(x)
    assert back.mode == 'L' and np.asarray(back).tolist() == [[0, 127, 254, 255]]   # truncation
    assert T.ToPILImage()(T.ToTensor()(img)).tobytes() == img.tobytes()


def test_normalize_takes_tensors_not_pil_images():
    x = T.ToTensor()(rgb())
    out = T.Normalize((0.5, 0.4, 0.3), (0.2, 0.2, 0.2))(x)
    assert isinstance(out, minidl.Tensor)
    expected = (x.numpy() - np.array([0.5, 0.4, 0.3], np.float32)[:, None, None]) / np.float32(0.2)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    with pytest.raises(TypeError, match='Normalize: img should be a Tensor image'):
        T.Normalize((0.5,), (0.5,))(rgb())
    with pytest.raises(TypeError, match='lambd should be callable'):
        T.Lambda(3)
    assert T.Lambda(lambda im: im.size)(rgb()) == (45, 30)


# ---------------------------------------------------------------- geometry

@pytest.mark.parametrize('size, max_size, expected', [
    (20, None, (20, 30)), ((10, 12), None, (10, 12)), ([15], None, (15, 22)), (20, 25, (16, 25)),
])
def test_resize_sizes_and_pixels_are_pillows(size, max_size, expected):
    img = rgb(30, 45)
    out = T.Resize(size, max_size=max_size)(img)
    assert out.size == (expected[1], expected[0])
    assert out.tobytes() == img.resize(out.size, Image.Resampling.BILINEAR).tobytes()
    nearest = T.Resize(size, interpolation=T.InterpolationMode.NEAREST, max_size=max_size)(img)
    assert nearest.tobytes() == img.resize(out.size, Image.Resampling.NEAREST).tobytes()
    assert T.Resize(30)(img) is img                    # already that size: unchanged


def test_resize_of_pil_and_of_tensor_agree():
    img = rgb(40, 52)
    for size in (17, (60, 33)):
        through_pil = T.ToTensor()(T.Resize(size)(img)).numpy()
        on_tensor = T.Resize(size)(T.ToTensor()(img)).numpy()
        np.testing.assert_allclose(through_pil, on_tensor, atol=1.01 / 255)   # Pillow rounds to uint8


def test_center_crop_positions_and_zero_padding_like_torchvision():
    img = rgb(30, 45)
    out = T.CenterCrop((11, 20))(img)
    top, left = int(round((30 - 11) / 2)), int(round((45 - 20) / 2))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img)[top:top + 11, left:left + 20])
    small = grey(5, 4)
    big = T.CenterCrop((8, 7))(small)
    expected = np.zeros((8, 7), np.uint8)
    expected[1:6, 1:5] = np.asarray(small)      # padding (left 1, top 1, right 2, bottom 2)
    np.testing.assert_array_equal(np.asarray(big), expected)


@pytest.mark.parametrize('make', [
    lambda s: T.RandomCrop(20, padding=3, seed=s),
    lambda s: T.RandomCrop((12, 30), padding=(2, 4), padding_mode='reflect', seed=s),
    lambda s: T.RandomCrop(50, pad_if_needed=True, padding_mode='edge', seed=s),
    lambda s: T.RandomHorizontalFlip(seed=s),
    lambda s: T.RandomVerticalFlip(p=0.7, seed=s),
    lambda s: T.CenterCrop(40),
    lambda s: T.Pad((1, 2, 3, 4)),
])
def test_exact_transforms_give_on_pil_what_they_give_on_arrays(make):
    """A crop, flip or pad on a PIL image, then ToTensor, equals the same transform (same
    draws) on the float image: what lets the datasets read whole batches."""
    for seed in range(4):
        img = rgb(seed=seed)
        via_pil = T.ToTensor()(make(seed)(img)).numpy()
        via_array = make(seed)(chw(img))
        np.testing.assert_array_equal(via_pil, via_array)


def test_random_resized_crop_is_pillows_resize_of_the_drawn_box():
    img = rgb(30, 45)
    out = T.RandomResizedCrop((16, 18), seed=3)(img)
    top, left, h, w = (int(v[0]) for v in T.RandomResizedCrop((16, 18), seed=3).get_params(1, 30, 45))
    expected = img.crop((left, top, left + w, top + h)).resize((18, 16), Image.Resampling.BILINEAR)
    assert out.size == (18, 16) and out.tobytes() == expected.tobytes()


# ---------------------------------------------------------------- colour

@pytest.mark.parametrize('name, enhancer', [('brightness', ImageEnhance.Brightness),
                                            ('contrast', ImageEnhance.Contrast),
                                            ('saturation', ImageEnhance.Color)])
def test_color_jitter_is_pillows_enhancers(name, enhancer):
    img = rgb()
    out = T.ColorJitter(**{name: (1.4, 1.4)})(img)
    assert out.tobytes() == enhancer(img).enhance(1.4).tobytes()


@pytest.mark.parametrize('factor', [0.2, -0.3])
def test_color_jitter_hue_turns_pillows_8bit_hue(factor):
    img = rgb()
    out = T.ColorJitter(hue=(factor, factor))(img)
    h, s, v = img.convert('HSV').split()
    turned = ((np.asarray(h).astype(np.int64) + int(factor * 255)) % 256).astype(np.uint8)
    expected = Image.merge('HSV', (Image.fromarray(turned), s, v)).convert('RGB')
    assert out.tobytes() == expected.tobytes()
    assert T.ColorJitter(hue=0.4)(grey()).tobytes() == grey().tobytes()


def test_pipelines_that_read_whole_batches():
    assert batch_exact(T.Compose([T.ToTensor(), T.Normalize((0.1,), (0.3,))]))
    assert batch_exact(T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(),
                                  T.ToTensor()]))
    assert not batch_exact(T.Compose([T.RandomCrop(28, padding=2, fill=128), T.ToTensor()]))
    assert not batch_exact(T.Compose([T.Resize(32), T.ToTensor()]))
    assert not batch_exact(T.Compose([T.RandomHorizontalFlip()]))    # gives PIL images
