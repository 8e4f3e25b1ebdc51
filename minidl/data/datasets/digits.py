"""Digits: the UCI handwritten digits, 1,797 real 8x8 images, shipped inside minidl.

Small enough to train a CNN on a laptop CPU in seconds, and real handwriting, so a
test or an example can show a network learning without downloading anything.

Source and licence: "Optical Recognition of Handwritten Digits", E. Alpaydin and
C. Kaynak (1998), UCI Machine Learning Repository (https://doi.org/10.24432/C50P49),
CC BY 4.0; the copy scikit-learn ships as ``sklearn.datasets.load_digits`` (BSD-3).
``_digits.npz`` beside this file holds it (uint8 ``images`` 1797x8x8 with grey levels
0..16, int64 ``labels``); ``scripts/make_digits.py`` regenerates it. See README.md here.
"""
import functools
import os

import numpy as np

from ..transforms import Resize
from .base import ImageDataset

DIGITS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '_digits.npz')
GREY_LEVELS = 16  # pixels hold 0..16


@functools.lru_cache(maxsize=1)
def load_digits_arrays():
    """The vendored arrays (read-only): uint8 images (1797, 8, 8), int64 labels (1797,)."""
    with np.load(DIGITS_FILE, allow_pickle=False) as archive:
        images, labels = archive['images'], archive['labels'].astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def stratified_split(labels, test_fraction, seed):
    """(train, test) index arrays: round(test_fraction * n_c) random items of each class c
    go to test, the rest to train; both sorted, disjoint, covering everything."""
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):  # one step per class
        members = np.flatnonzero(labels == label)
        test.append(rng.permutation(members)[:int(round(len(members) * test_fraction))])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


class Digits(ImageDataset):
    """The UCI digits as float32 (1, size, size) images in [0, 1] with int64 labels 0..9.

    ``train`` picks one side of a stratified split (``test_fraction`` of each class held
    out, chosen by ``split_seed``); ``size`` other than 8 resizes the images bilinearly
    (28 gives MNIST's size).
    """
    classes = tuple(str(d) for d in range(10))

    def __init__(self, train=True, size=8, transform=None, split_seed=0, test_fraction=0.2):
        if not 0 < test_fraction < 1:
            raise ValueError(f'Digits: test_fraction must lie strictly between 0 and 1, '
                             f'got {test_fraction}')
        if int(size) != size or size < 1:
            raise ValueError(f'Digits: size must be a positive integer, got {size!r}')
        images, labels = load_digits_arrays()
        train_idx, test_idx = stratified_split(labels, test_fraction, split_seed)
        chosen = train_idx if train else test_idx
        data = images[chosen][:, None].astype(np.float32) / GREY_LEVELS
        if size != data.shape[-1]:
            data = np.clip(Resize((int(size), int(size)))(data), 0, 1)
        super().__init__(data, labels[chosen], transform)
        self.train, self.size = train, int(size)
        self.split_seed, self.test_fraction = split_seed, test_fraction
        self.indices = chosen   # positions in the full set of 1,797
