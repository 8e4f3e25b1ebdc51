"""Regenerate minidl/data/datasets/_digits.npz from scikit-learn's copy of the UCI digits.

    python scripts/make_digits.py

The data: "Optical Recognition of Handwritten Digits", E. Alpaydin and C. Kaynak (1998),
UCI Machine Learning Repository, CC BY 4.0 (https://doi.org/10.24432/C50P49); the
1,797 8x8 images with 17 grey levels (0..16) that scikit-learn ships (BSD-3) as
``sklearn.datasets.load_digits``. scikit-learn is needed only to run this script;
minidl reads the .npz it writes.
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', 'minidl', 'data', 'datasets', '_digits.npz')


def main():
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = digits.images                   # (1797, 8, 8) float64 holding 0..16
    if images.min() < 0 or images.max() > 16 or not np.all(images == np.round(images)):
        raise SystemExit('make_digits: expected whole grey levels 0..16 from load_digits')
    images = images.astype(np.uint8)
    labels = digits.target.astype(np.int64)
    np.savez_compressed(OUT, images=images, labels=labels)
    print(f'wrote {os.path.normpath(OUT)}: images {images.shape} {images.dtype}, '
          f'labels {labels.shape} {labels.dtype}, {os.path.getsize(OUT):,} bytes')


if __name__ == '__main__':
    main()
