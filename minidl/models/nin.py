"""Network in Network (Lin, Chen and Yan, 2013) as in Dive into Deep Learning.

A NiN block is one kxk convolution followed by two 1x1 convolutions ("a small MLP
at every pixel"), each with ReLU. Four blocks, 3x3 stride-2 max-pooling between the
first three, dropout 0.5 before the last, whose channels are the classes; global
average pooling then gives one score per class: no fully connected layer at all.
"""
from .. import nn

__all__ = ['NiN', 'nin_block', 'nin']


def nin_block(in_channels, out_channels, kernel_size, stride, padding):
    """kxk conv + ReLU, then two 1x1 convs + ReLU, all with ``out_channels`` channels."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


class NiN(nn.Module):
    """NiN: ``features`` (blocks, pools, dropout), ``avgpool`` (global), ``flatten``.

    Blocks (out_channels, kernel, stride, padding): (96, 11, 4, 0), (256, 5, 1, 2),
    (384, 3, 1, 1), (num_classes, 3, 1, 1). The last block keeps its ReLU, as in d2l,
    so the class scores are non-negative before pooling.

    Small inputs: 67x67 and up (the 11x11 stride-4 first block needs it); the lessons
    use 96x96 or 224x224 resized images (Fashion-MNIST: ``in_channels=1``).
    """

    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nin_block(in_channels, 96, kernel_size=11, stride=4, padding=0),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nin_block(96, 256, kernel_size=5, stride=1, padding=2),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nin_block(256, 384, kernel_size=3, stride=1, padding=1),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Dropout(p=dropout),
            nin_block(384, num_classes, kernel_size=3, stride=1, padding=1))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()

    def forward(self, x):
        return self.flatten(self.avgpool(self.features(x)))


def nin(num_classes=1000, in_channels=3, **kwargs):
    """Network in Network (d2l's four blocks; 67x67 inputs and up)."""
    return NiN(num_classes=num_classes, in_channels=in_channels, **kwargs)
