"""LeNet-5 (LeCun et al., 1998) as taught in Dive into Deep Learning, with and without batch norm.

Input: 1x28x28 (Fashion-MNIST); the first convolution pads by 2 so that the 28x28
image plays the part of the paper's 32x32 one. Sigmoid activations and average
pooling, as in the original.

    model = lenet5(num_classes=10)          # 61,706 parameters
    model = lenet5_bn(num_classes=10)       # the same with BatchNorm before each sigmoid
"""
from .. import nn

__all__ = ['LeNet5', 'lenet5', 'lenet5_bn']


class LeNet5(nn.Sequential):
    """LeNet-5 as one ``Sequential`` (state_dict keys ``0.weight``, ``3.weight``, ... as in d2l).

    Layers: Conv(in->6, 5, pad 2), sigmoid, AvgPool(2, 2), Conv(6->16, 5), sigmoid,
    AvgPool(2, 2), Flatten, Linear(400, 120), sigmoid, Linear(120, 84), sigmoid,
    Linear(84, num_classes). With ``batch_norm=True`` a BatchNorm2d follows each
    convolution and a BatchNorm1d each hidden linear layer, before its sigmoid (the
    d2l batch-norm lesson; that lesson also drops the padding of the first
    convolution, which is kept here so that the two models differ only by batch norm).

    Small inputs: built for 28x28 (needs 28x28, because Linear(400, ...) fixes the size).
    """

    def __init__(self, num_classes=1000, in_channels=1, batch_norm=False):
        def maybe_bn(bn_cls, channels):
            return [bn_cls(channels)] if batch_norm else []

        super().__init__(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), *maybe_bn(nn.BatchNorm2d, 6),
            nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), *maybe_bn(nn.BatchNorm2d, 16), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), *maybe_bn(nn.BatchNorm1d, 120), nn.Sigmoid(),
            nn.Linear(120, 84), *maybe_bn(nn.BatchNorm1d, 84), nn.Sigmoid(),
            nn.Linear(84, num_classes))


def lenet5(num_classes=1000, in_channels=1):
    """LeNet-5 for 28x28 inputs (sigmoid, average pooling), PyTorch's default initialisation."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels)


def lenet5_bn(num_classes=1000, in_channels=1):
    """LeNet-5 with batch norm after every convolution and hidden linear layer (28x28 inputs)."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels, batch_norm=True)
