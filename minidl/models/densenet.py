"""DenseNet (Huang et al., 2016) in torchvision's module layout.

Inside a dense block every layer sees the concatenation of the block's input and all
earlier layers' outputs, and adds ``growth_rate`` new channels:

    x_l = H_l(cat(x_0, x_1, ..., x_{l-1})),  H_l = BN-ReLU-conv1x1(bn_size*k) -BN-ReLU-conv3x3(k)

A transition layer between blocks (BN-ReLU-conv1x1-avgpool 2x2) halves the channels
and the map size. Keys as torchvision's: features.conv0, features.norm0,
features.denseblock1.denselayer1.norm1 / conv1 / norm2 / conv2,
features.transition1.norm / conv, features.norm5, classifier.
DenseNet-121 has 7,978,856 parameters at 1000 classes.
"""
from collections import OrderedDict

from .. import nn
from .. import functional as F

__all__ = ['DenseLayer', 'DenseBlock', 'Transition', 'DenseNet', 'densenet121']


class DenseLayer(nn.Module):
    """BN-ReLU-conv1x1 (bn_size * growth_rate channels), BN-ReLU-conv3x3 (growth_rate channels).

    ``forward`` takes the list of all earlier feature maps of the block and
    concatenates them on the channel axis (``minidl.cat``) before the first BN.
    """

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate=0.0):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1,
                               stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features):
        x = F.cat(features, 1) if isinstance(features, (list, tuple)) else features
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


class DenseBlock(nn.ModuleDict):
    """``num_layers`` DenseLayers named denselayer1..N; the output concatenates all of them.

    Output channels: num_input_features + num_layers * growth_rate.
    """

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate=0.0):
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size,
                               drop_rate)
            self.add_module(f'denselayer{i + 1}', layer)

    def forward(self, init_features):
        features = [init_features]
        for _, layer in self.items():
            features.append(layer(features))
        return F.cat(features, 1)


class Transition(nn.Sequential):
    """BN, ReLU, 1x1 conv to ``num_output_features``, 2x2 average pool (keys norm, conv)."""

    def __init__(self, num_input_features, num_output_features):
        super().__init__(OrderedDict([
            ('norm', nn.BatchNorm2d(num_input_features)),
            ('relu', nn.ReLU()),
            ('conv', nn.Conv2d(num_input_features, num_output_features, kernel_size=1,
                               stride=1, bias=False)),
            ('pool', nn.AvgPool2d(kernel_size=2, stride=2)),
        ]))


class DenseNet(nn.Module):
    """DenseNet-BC: stem, dense blocks with transitions, final BN, ReLU, global pool, classifier.

    Arguments as torchvision's (``growth_rate=32``, ``block_config=(6, 12, 24, 16)``,
    ``num_init_features=64``, ``bn_size=4``, ``drop_rate=0``) plus ``in_channels`` and
    ``small_input``. Initialisation as torchvision: convs kaiming-normal (fan_in),
    BatchNorm weight 1 and bias 0, classifier bias 0.

    Small inputs: any size from 32x32 up runs as is (32x32 ends on a 1x1 map; the d2l
    lesson uses 96x96). ``small_input=True`` swaps the stem for a 3x3 stride-1 conv0
    without the max-pool (``pool0`` is an Identity; keys unchanged) so that 32x32
    CIFAR images keep 32x32 maps in the first block and end on 4x4.
    """

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
                 bn_size=4, drop_rate=0.0, num_classes=1000, in_channels=3, small_input=False):
        super().__init__()
        if small_input:
            conv0 = nn.Conv2d(in_channels, num_init_features, kernel_size=3, stride=1,
                              padding=1, bias=False)
            pool0 = nn.Identity()
        else:
            conv0 = nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=2,
                              padding=3, bias=False)
            pool0 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.features = nn.Sequential(OrderedDict([
            ('conv0', conv0),
            ('norm0', nn.BatchNorm2d(num_init_features)),
            ('relu0', nn.ReLU()),
            ('pool0', pool0),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate)
            self.features.add_module(f'denseblock{i + 1}', block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f'transition{i + 1}',
                                         Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module('norm5', nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1.0)
                nn.init.constant_(m.bias, 0.0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0.0)

    def forward(self, x):
        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(F.flatten(x, 1))


def densenet121(num_classes=1000, in_channels=3, **kwargs):
    """DenseNet-121: growth 32, blocks (6, 12, 24, 16), 64 initial features."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, in_channels=in_channels,
                    **kwargs)
