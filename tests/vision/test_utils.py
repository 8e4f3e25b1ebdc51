import numpy as np
import pytest
from PIL import Image

import minidl
from minidl.vision.utils import make_grid, save_image

pytestmark = pytest.mark.cpu_only


def test_make_grid_layout_as_torchvision():
    images = minidl.tensor(np.arange(5 * 1 * 2 * 3, dtype=np.float32).reshape(5, 1, 2, 3))
    grid = make_grid(images, nrow=3, padding=1, pad_value=-1).numpy()
    # 3 columns, 2 rows of 2x3 images with 1 pixel of padding: (3, 1 + 2 * 3, 1 + 3 * 4)
    assert grid.shape == (3, 7, 13)
    np.testing.assert_array_equal(grid[0, 1:3, 5:8], images.numpy()[1, 0])   # row 0, column 1
    np.testing.assert_array_equal(grid[2, 4:6, 1:4], images.numpy()[3, 0])   # row 1, column 0
    assert (grid[:, 4:6, 9:12] == -1).all()                                    # no sixth image
    assert make_grid(images[0]).shape == (3, 2, 3)                             # one image


def test_make_grid_normalizes():
    images = minidl.tensor(np.array([[[[0.0, 2.0]]], [[[4.0, 8.0]]]], np.float32))
    together = make_grid(images, normalize=True, padding=0).numpy()[0]
    np.testing.assert_allclose(together, [[0, 0.25, 0.5, 1.0]])
    each = make_grid(images, normalize=True, scale_each=True, padding=0).numpy()[0]
    np.testing.assert_allclose(each, [[0, 1, 0, 1]])
    with pytest.raises(TypeError, match='value_range has to be a tuple'):
        make_grid(images, normalize=True, value_range=[0, 1])


def test_save_image_rounds_as_torchvision(tmp_path):
    images = minidl.tensor(np.array([[[[0.0, 0.5, 1.0, 0.998]]]], np.float32))
    save_image(images, tmp_path / 'grid.png', padding=0)
    pixels = np.asarray(Image.open(tmp_path / 'grid.png'))
    assert pixels.shape == (1, 4, 3) and pixels[0, :, 0].tolist() == [0, 128, 255, 254]
