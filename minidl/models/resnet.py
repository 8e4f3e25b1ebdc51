"""ResNet (He et al., 2015) and ResNeXt (Xie et al., 2016) in torchvision's module layout.

A residual block computes relu(F(x) + shortcut(x)); the shortcut is the identity, or
a 1x1 strided conv + BatchNorm (``downsample``) when the shape changes.

- ``BasicBlock`` (ResNet-18/34): two 3x3 convs.
- ``Bottleneck`` (ResNet-50/101/152, ResNeXt): 1x1 reduce, 3x3 (grouped for ResNeXt),
  1x1 expand by 4. torchvision ("ResNet v1.5") strides the 3x3 conv;
  ``stride_in_1x1=True`` strides the first 1x1 conv instead, as the paper did, which
  is what its Table 1 FLOPs count (3.8 / 7.6 / 11.3 GMACs for ResNet-50/101/152
  against torchvision's 4.09 / 7.80 / 11.51). Parameters are the same either way.

``small_input=True`` replaces the ImageNet stem (7x7 stride-2 conv + 3x3 stride-2
max-pool) by a CIFAR stem (3x3 stride-1 conv, no max-pool) for 32x32 images: the keys
stay the same (``conv1.weight`` just has shape (64, in_channels, 3, 3), ``maxpool`` is
an Identity).
"""
from .. import nn
from .. import functional as F
from ._init import init_conv_and_batch_norm

__all__ = ['BasicBlock', 'Bottleneck', 'ResNet', 'resnet18', 'resnet34', 'resnet50',
           'resnet101', 'resnet152', 'resnext50_32x4d']


def conv3x3(in_planes, out_planes, stride=1, groups=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1,
                     groups=groups, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """3x3 conv (stride) + BN + ReLU, 3x3 conv + BN, add the shortcut, ReLU."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 stride_in_1x1=False):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError(f'BasicBlock: only groups=1 and base_width=64 are supported, '
                             f'got groups={groups}, base_width={base_width}')
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce + BN + ReLU, 3x3 (grouped) + BN + ReLU, 1x1 expand (x4) + BN, add, ReLU.

    The stride sits on the 3x3 conv (torchvision, v1.5), or on the first 1x1 conv with
    ``stride_in_1x1=True`` (the paper). Width of the inner convs:
    ``int(planes * base_width / 64) * groups`` (ResNeXt-50 32x4d: 128 in layer1).
    """
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 stride_in_1x1=False):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, width, stride_1x1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride_3x3, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet with torchvision's keys: conv1, bn1, layer1..layer4 (blocks 0..n-1), fc.

    Arguments as torchvision's (``block``, ``layers``, ``num_classes``,
    ``zero_init_residual``, ``groups``, ``width_per_group``) plus ``in_channels``,
    ``small_input`` (CIFAR stem, see the module docstring) and ``stride_in_1x1``
    (paper's bottleneck layout).

    Initialisation as torchvision: convs kaiming-normal (fan_out, ReLU gain),
    BatchNorm weight 1 and bias 0, fc PyTorch's default; ``zero_init_residual=True``
    zeroes the last BN weight of every block, so each block starts as the identity.

    Small inputs: with ``small_input=True`` 32x32 CIFAR images keep 32x32 maps in
    layer1 and end on 4x4 before global pooling; without it any size from 32x32 up
    runs (1x1 maps at the end for 32x32; the d2l lesson uses 96x96).
    """

    def __init__(self, block, layers, num_classes=1000, in_channels=3, zero_init_residual=False,
                 groups=1, width_per_group=64, small_input=False, stride_in_1x1=False):
        super().__init__()
        self.inplanes = 64
        self.groups = groups
        self.base_width = width_per_group
        self.stride_in_1x1 = stride_in_1x1
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        init_conv_and_batch_norm(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0.0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0.0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        self.stride_in_1x1)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, stride_in_1x1=self.stride_in_1x1))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(F.flatten(self.avgpool(x), 1))


def resnet18(num_classes=1000, in_channels=3, **kwargs):
    """ResNet-18: BasicBlock x (2, 2, 2, 2); 11,689,512 parameters at 1000 classes."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, **kwargs)


def resnet34(num_classes=1000, in_channels=3, **kwargs):
    """ResNet-34: BasicBlock x (3, 4, 6, 3); 21,797,672 parameters."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels, **kwargs)


def resnet50(num_classes=1000, in_channels=3, **kwargs):
    """ResNet-50: Bottleneck x (3, 4, 6, 3); 25,557,032 parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, **kwargs)


def resnet101(num_classes=1000, in_channels=3, **kwargs):
    """ResNet-101: Bottleneck x (3, 4, 23, 3); 44,549,160 parameters."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, in_channels, **kwargs)


def resnet152(num_classes=1000, in_channels=3, **kwargs):
    """ResNet-152: Bottleneck x (3, 8, 36, 3); 60,192,808 parameters."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, in_channels, **kwargs)


def resnext50_32x4d(num_classes=1000, in_channels=3, **kwargs):
    """ResNeXt-50 32x4d: ResNet-50 with 32 groups of width 4 in the 3x3 convs; 25,028,904 parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, groups=32,
                  width_per_group=4, **kwargs)
