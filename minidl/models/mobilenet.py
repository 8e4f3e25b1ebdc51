"""MobileNet v1 (Howard et al., 2017): depthwise separable convolutions.

A standard KxK convolution from M to N channels costs K*K*M*N multiply-adds per
pixel; a depthwise separable one splits it into a KxK depthwise convolution (one
filter per channel, ``groups=M``: K*K*M) and a 1x1 pointwise convolution (M*N), about
1/N + 1/K^2 of the cost. Each is followed by BatchNorm and ReLU; convolutions have no
bias.

Layers (the paper's Table 1): a 3x3 stride-2 conv to 32 channels, then 13 depthwise
separable blocks (out_channels, stride) = (64, 1), (128, 2), (128, 1), (256, 2),
(256, 1), (512, 2), 5 x (512, 1), (1024, 2), (1024, 1), global average pooling and
one linear layer. ``width_mult`` (the paper's alpha) scales every channel count.
At width 1.0, 224x224 and 1000 classes: 4,231,976 parameters (weights, biases and
BatchNorm's affine parameters; running statistics excluded), 569 M multiply-adds.

torchvision has no MobileNet v1, so the keys are our own: features.0.0 (stem conv),
features.0.1 (its BN), features.K.depthwise.{0,1} and features.K.pointwise.{0,1}
for block K = 1..13, classifier.
"""
from .. import nn
from .. import functional as F
from ._init import init_conv_and_batch_norm

__all__ = ['MOBILENET_V1_BLOCKS', 'conv_bn_relu', 'DepthwiseSeparableConv', 'MobileNetV1',
           'mobilenet_v1']

# (out_channels, stride) of the 13 depthwise separable blocks, at width 1.0
MOBILENET_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                       (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
                       (1024, 2), (1024, 1))


def conv_bn_relu(in_channels, out_channels, kernel_size, stride=1, groups=1):
    """conv (no bias, 'same' padding) + BatchNorm2d + ReLU as one Sequential (keys 0, 1)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                  padding=kernel_size // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU())


class DepthwiseSeparableConv(nn.Module):
    """3x3 depthwise conv (stride, groups=in_channels) + BN + ReLU, 1x1 pointwise + BN + ReLU."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.depthwise = conv_bn_relu(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise = conv_bn_relu(in_channels, out_channels, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class MobileNetV1(nn.Module):
    """MobileNet v1: ``features`` (stem + 13 blocks), ``avgpool`` (global), ``classifier``.

    ``width_mult`` scales all channels (int(c * width_mult), at least 1). Initialisation:
    convs kaiming-normal (fan_out, ReLU gain), BatchNorm weight 1 and bias 0, the
    classifier PyTorch's default Linear initialisation.

    Small inputs: any size from 32x32 up runs (five stride-2 stages: 32x32 ends on a
    1x1 map, 96x96 on 3x3); global average pooling fixes the classifier's input.
    """

    def __init__(self, num_classes=1000, in_channels=3, width_mult=1.0):
        super().__init__()

        def width(c):
            return max(1, int(c * width_mult))

        channels = width(32)
        layers = [conv_bn_relu(in_channels, channels, 3, stride=2)]
        for out_channels, stride in MOBILENET_V1_BLOCKS:
            layers.append(DepthwiseSeparableConv(channels, width(out_channels), stride))
            channels = width(out_channels)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(channels, num_classes)

        init_conv_and_batch_norm(self)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(F.flatten(x, 1))


def mobilenet_v1(num_classes=1000, in_channels=3, width_mult=1.0):
    """MobileNet v1 with width multiplier ``width_mult`` (1.0: 4,231,976 parameters)."""
    return MobileNetV1(num_classes=num_classes, in_channels=in_channels, width_mult=width_mult)
