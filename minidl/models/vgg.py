"""VGG (Simonyan and Zisserman, 2014): blocks of 3x3 convolutions, each block ending in max-pooling.

A VGG is a list of (num_convs, channels) blocks; VGG-11 is
((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)). ``vgg_block`` builds one block as
in Dive into Deep Learning. The model keeps torchvision's module tree: ``features`` is
ONE flat ``Sequential`` (features.0 is the first conv, features.2 the first pool, ...)
made of the blocks' layers, then ``avgpool`` (adaptive, 7x7) and ``classifier``, so a
torchvision checkpoint loads unchanged.

Parameters at 1000 classes: vgg11 132,863,336; vgg13 133,047,848; vgg16 138,357,544;
vgg19 143,667,240; the _bn variants add two per channel of every conv layer.
"""
from .. import nn
from .. import functional as F
from ._init import init_conv_and_batch_norm

__all__ = ['VGG', 'vgg_block', 'VGG_ARCHS', 'vgg11', 'vgg11_bn', 'vgg13', 'vgg13_bn',
           'vgg16', 'vgg16_bn', 'vgg19', 'vgg19_bn']

# (num_convs, out_channels) per block, the paper's configurations A, B, D and E
VGG_ARCHS = {
    'vgg11': ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    'vgg13': ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),
    'vgg16': ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
    'vgg19': ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),
}


def vgg_block(num_convs, in_channels, out_channels, batch_norm=False):
    """``num_convs`` 3x3 convolutions (padding 1) with ReLU, then a 2x2 stride-2 max-pool.

    With ``batch_norm`` each convolution is followed by BatchNorm2d before its ReLU.
    Returns a ``Sequential``; the map's height and width are halved.
    """
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG from a list of (num_convs, channels) blocks, in torchvision's module layout.

    ``init_weights=True`` initialises as torchvision: convolutions kaiming-normal
    (fan_out, ReLU gain) with zero bias, BatchNorm weight 1 and bias 0, linear layers
    N(0, 0.01) with zero bias. ``False`` keeps the layers' default initialisation.

    Small inputs: any size from 32x32 up runs (five 2x2 poolings), because the
    adaptive 7x7 average pooling fixes the classifier's input (on 32x32 CIFAR images
    the single 1x1 feature map is repeated 49 times); the d2l lesson uses 224x224.
    """

    def __init__(self, arch, num_classes=1000, in_channels=3, batch_norm=False,
                 init_weights=True, dropout=0.5):
        super().__init__()
        layers = []
        for num_convs, channels in arch:
            layers.extend(vgg_block(num_convs, in_channels, channels, batch_norm))
            in_channels = channels
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(in_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            init_conv_and_batch_norm(self)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                    nn.init.constant_(m.bias, 0.0)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(F.flatten(x, 1))


def _vgg(name, batch_norm, num_classes, in_channels, kwargs):
    return VGG(VGG_ARCHS[name], num_classes=num_classes, in_channels=in_channels,
               batch_norm=batch_norm, **kwargs)


def vgg11(num_classes=1000, in_channels=3, **kwargs):
    """VGG-11 (configuration A)."""
    return _vgg('vgg11', False, num_classes, in_channels, kwargs)


def vgg11_bn(num_classes=1000, in_channels=3, **kwargs):
    """VGG-11 with batch norm."""
    return _vgg('vgg11', True, num_classes, in_channels, kwargs)


def vgg13(num_classes=1000, in_channels=3, **kwargs):
    """VGG-13 (configuration B)."""
    return _vgg('vgg13', False, num_classes, in_channels, kwargs)


def vgg13_bn(num_classes=1000, in_channels=3, **kwargs):
    """VGG-13 with batch norm."""
    return _vgg('vgg13', True, num_classes, in_channels, kwargs)


def vgg16(num_classes=1000, in_channels=3, **kwargs):
    """VGG-16 (configuration D)."""
    return _vgg('vgg16', False, num_classes, in_channels, kwargs)


def vgg16_bn(num_classes=1000, in_channels=3, **kwargs):
    """VGG-16 with batch norm."""
    return _vgg('vgg16', True, num_classes, in_channels, kwargs)


def vgg19(num_classes=1000, in_channels=3, **kwargs):
    """VGG-19 (configuration E)."""
    return _vgg('vgg19', False, num_classes, in_channels, kwargs)


def vgg19_bn(num_classes=1000, in_channels=3, **kwargs):
    """VGG-19 with batch norm."""
    return _vgg('vgg19', True, num_classes, in_channels, kwargs)
