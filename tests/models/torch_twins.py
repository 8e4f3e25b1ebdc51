"""The PyTorch twins of minidl's zoo: each network re-created with torch.nn alone
(torchvision is not a dependency), module for module, so that its state_dict has the
keys and shapes of minidl's model and weights load either way.

    twin = resnet18(num_classes=10, small_input=True)
    twin.load_state_dict(torch_state_dict(minidl_model))     # minidl's weights in torch
    minidl_model.load_state_dict(twin.state_dict())          # or torch's in minidl

The model tests (tests/models) compare minidl's models with these, and
benchmarks/speed.py times minidl against them. A twin is a reference: it is written
from torchvision's code or the paper, never from minidl's, and imports nothing from
``minidl.models`` -- a mistake in minidl's layout cannot hide in its twin. Classes,
builders and keyword arguments carry minidl's (and torchvision's) names, so that one
expression builds either (``zoo.resnet18(num_classes=10)`` with ``zoo`` this module or
``minidl.models``).

This module imports torch: tests reach it through ``tests.models.common.require_twins()``,
which skips (or fails under MINIDL_REQUIRE_TORCH=1) when PyTorch is missing.
"""
from collections import OrderedDict

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from minidl.backend import to_device


def torch_state_dict(minidl_model):
    """minidl's state_dict as torch tensors (host copies), under the same keys."""
    return OrderedDict((key, torch.from_numpy(np.array(to_device(value, 'cpu'))))
                       for key, value in minidl_model.state_dict().items())


# ---------------------------------------------------------------- LeNet-5 (d2l)

def lenet5(num_classes=1000, in_channels=1, batch_norm=False):
    """d2l's LeNet as one Sequential (keys 0, 3, 7, 9, 11), with BN before each sigmoid
    when asked (minidl's lenet5_bn)."""
    def bn(cls, channels):
        return [cls(channels)] if batch_norm else []

    return nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), *bn(nn.BatchNorm2d, 6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), *bn(nn.BatchNorm2d, 16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(400, 120), *bn(nn.BatchNorm1d, 120), nn.Sigmoid(),
        nn.Linear(120, 84), *bn(nn.BatchNorm1d, 84), nn.Sigmoid(),
        nn.Linear(84, num_classes))


# ---------------------------------------------------------------- AlexNet

def alexnet_classifier(num_classes):
    return nn.Sequential(
        nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes))


class AlexNet(nn.Module):
    """torchvision's AlexNet."""

    def __init__(self, num_classes=1000, in_channels=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = alexnet_classifier(num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class AlexNet2012(nn.Module):
    """The paper's AlexNet: LRN (the paper's constants: PyTorch's alpha is alpha * size)
    after conv1 and conv2; ``grouped``: conv2, conv4, conv5 in two groups (two GPUs)."""

    def __init__(self, num_classes=1000, in_channels=3, grouped=False):
        super().__init__()
        g = 2 if grouped else 1
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, 11, stride=4), nn.ReLU(),
            nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=g), nn.ReLU(),
            nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=g), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=g), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = alexnet_classifier(num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def alexnet_2012(num_classes=1000, in_channels=3, grouped=False):
    return AlexNet2012(num_classes, in_channels, grouped)


# ---------------------------------------------------------------- VGG

# torchvision's configurations: channels, 'M' for a max-pool
VGG_CFGS = {
    'vgg11': [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
    'vgg13': [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
    'vgg16': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M',
              512, 512, 512, 'M'],
    'vgg19': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M',
              512, 512, 512, 512, 'M'],
}


class VGG(nn.Module):
    """torchvision's VGG ``name`` ('vgg11' ... 'vgg19'), its layers made from the cfg list
    (torchvision's make_layers)."""

    def __init__(self, name, num_classes=1000, batch_norm=False):
        super().__init__()
        layers, channels = [], 3
        for v in VGG_CFGS[name]:
            if v == 'M':
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers.append(nn.Conv2d(channels, v, 3, padding=1))
                layers += [nn.BatchNorm2d(v), nn.ReLU()] if batch_norm else [nn.ReLU()]
                channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096),
            nn.ReLU(), nn.Dropout(), nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ---------------------------------------------------------------- Network in Network (d2l)

def nin_block(in_channels, out_channels, kernel_size, stride, padding):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding),
                         nn.ReLU(), nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(),
                         nn.Conv2d(out_channels, out_channels, 1), nn.ReLU())


class NiN(nn.Module):
    """d2l's NiN, with minidl's attribute names (features, avgpool, flatten)."""

    def __init__(self, num_classes=1000, in_channels=3):
        super().__init__()
        self.features = nn.Sequential(
            nin_block(in_channels, 96, 11, 4, 0), nn.MaxPool2d(3, 2),
            nin_block(96, 256, 5, 1, 2), nn.MaxPool2d(3, 2),
            nin_block(256, 384, 3, 1, 1), nn.MaxPool2d(3, 2), nn.Dropout(0.5),
            nin_block(384, num_classes, 3, 1, 1))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()

    def forward(self, x):
        return self.flatten(self.avgpool(self.features(x)))


# ---------------------------------------------------------------- GoogLeNet (torchvision's)

class BasicConv2d(nn.Module):
    """Convolution without bias, BatchNorm (eps 0.001), ReLU."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four branches concatenated (branch3's second conv is 3x3, as torchvision's)."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """An auxiliary head's weights (the twin runs in eval mode, where the heads are idle)."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(0.7)


class GoogLeNet(nn.Module):
    """torchvision's GoogLeNet; ``forward`` is the eval-mode one (logits only)."""

    def __init__(self, num_classes=1000, in_channels=3, aux_logits=True, transform_input=False):
        super().__init__()
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes)
            self.aux2 = InceptionAux(528, num_classes)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        if self.transform_input:  # ImageNet normalisation -> the (x - 0.5) / 0.5 of the original
            x = torch.cat([x[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5,
                           x[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5,
                           x[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5], 1)
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for name in ('4a', '4b', '4c', '4d', '4e'):
            x = getattr(self, 'inception' + name)(x)
        x = self.inception5b(self.inception5a(self.maxpool4(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---------------------------------------------------------------- ResNet and ResNeXt (v1.5)

class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 down, 3x3 (the stride, ``groups`` for ResNeXt), 1x1 up by 4."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64):
        super().__init__()
        width = int(planes * base_width / 64) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet; ``small_input=True``: minidl's CIFAR stem (3x3 stride-1 conv,
    no max-pool)."""

    def __init__(self, block, layers, num_classes=1000, in_channels=3, groups=1,
                 width_per_group=64, small_input=False):
        super().__init__()
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        inplanes = 64
        for k, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for b in range(n):
                stride = 2 if k > 0 and b == 0 else 1
                downsample = None
                if b == 0 and (stride != 1 or inplanes != planes * block.expansion):
                    downsample = nn.Sequential(
                        nn.Conv2d(inplanes, planes * block.expansion, 1, stride, bias=False),
                        nn.BatchNorm2d(planes * block.expansion))
                blocks.append(block(inplanes, planes, stride, downsample, groups,
                                    width_per_group))
                inplanes = planes * block.expansion
            setattr(self, f'layer{k + 1}', nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes=1000, in_channels=3, small_input=False):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, small_input=small_input)


# ---------------------------------------------------------------- DenseNet (torchvision's)

class DenseLayer(nn.Module):
    """BN, ReLU, 1x1 conv to bn_size * growth_rate, BN, ReLU, 3x3 conv to growth_rate."""

    def __init__(self, num_input_features, growth_rate, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

    def forward(self, features):
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    """Each layer reads every earlier output; the block returns them all, concatenated."""

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f'denselayer{i + 1}',
                            DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size))

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    def __init__(self, num_input_features, num_output_features):
        super().__init__(OrderedDict([
            ('norm', nn.BatchNorm2d(num_input_features)), ('relu', nn.ReLU()),
            ('conv', nn.Conv2d(num_input_features, num_output_features, 1, bias=False)),
            ('pool', nn.AvgPool2d(2, 2))]))


class DenseNet(nn.Module):
    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
                 bn_size=4, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ('conv0', nn.Conv2d(3, num_init_features, 7, 2, 3, bias=False)),
            ('norm0', nn.BatchNorm2d(num_init_features)), ('relu0', nn.ReLU()),
            ('pool0', nn.MaxPool2d(3, 2, 1))]))
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f'denseblock{i + 1}',
                                     DenseBlock(num_layers, channels, bn_size, growth_rate))
            channels += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f'transition{i + 1}', Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module('norm5', nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ---------------------------------------------------------------- MobileNet v1 (Howard et al. 2017)

# (out_channels, stride) of the 13 depthwise separable blocks of Table 1, at width 1.0
MOBILENET_V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + \
                      [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


def conv_bn_relu(in_channels, out_channels, kernel_size, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                  groups=groups, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU())


class DepthwiseSeparableConv(nn.Module):
    """A 3x3 depthwise convolution (one filter per channel), then a 1x1 pointwise one."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.depthwise = conv_bn_relu(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise = conv_bn_relu(in_channels, out_channels, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class MobileNetV1(nn.Module):
    """features (a stride-2 stem and 13 separable blocks), avgpool, classifier;
    ``width_mult`` scales every width."""

    def __init__(self, num_classes=1000, in_channels=3, width_mult=1.0):
        super().__init__()
        channels = int(32 * width_mult)
        layers = [conv_bn_relu(in_channels, channels, 3, stride=2)]
        for out_channels, stride in MOBILENET_V1_BLOCKS:
            layers.append(DepthwiseSeparableConv(channels, int(out_channels * width_mult), stride))
            channels = int(out_channels * width_mult)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilenet_v1(num_classes=1000, in_channels=3, width_mult=1.0):
    return MobileNetV1(num_classes, in_channels, width_mult)
