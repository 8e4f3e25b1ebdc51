"""GoogLeNet / Inception v1 (Szegedy et al., 2014) in torchvision's module layout.

Every convolution is a ``BasicConv2d``: conv (no bias) + BatchNorm(eps=0.001) + ReLU
(batch norm came later than the paper; torchvision's checkpoint has it). An Inception
block runs four branches side by side and concatenates them on the channel axis:

    branch1  1x1 conv
    branch2  1x1 conv (reduce) -> 3x3 conv
    branch3  1x1 conv (reduce) -> 3x3 conv   (the paper has 5x5 here; torchvision's
                                              layout, and its weights, use 3x3, and so
                                              do we, so that its checkpoint loads)
    branch4  3x3 max-pool (stride 1)  -> 1x1 conv (pool projection)

With ``aux_logits=True`` two auxiliary classifiers (``aux1`` after inception4a,
``aux2`` after inception4d) add their losses during training; the model then returns
``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)`` in training mode and plain
logits in eval mode. ``googlenet_loss`` combines the three losses with the paper's
weight 0.3. Parameters at 1000 classes: 6,624,904 without the auxiliary classifiers,
13,004,888 with them.
"""
from collections import namedtuple

from .. import nn
from .. import functional as F

__all__ = ['GoogLeNet', 'GoogLeNetOutputs', 'BasicConv2d', 'Inception', 'InceptionAux',
           'inception_block', 'googlenet', 'googlenet_loss']

class GoogLeNetOutputs(namedtuple('GoogLeNetOutputs', ['logits', 'aux_logits2', 'aux_logits1'])):
    """GoogLeNet's training-mode output: the logits and the two auxiliary heads' logits.
    A trainer takes ``.logits`` for accuracy and ``.training_loss(target)`` to learn."""
    __slots__ = ()

    def training_loss(self, target, aux_weight=0.3):
        """The paper's loss (Szegedy et al., 2015, section 5):
        CE(logits) + aux_weight * (CE(aux_logits1) + CE(aux_logits2))."""
        return googlenet_loss(self, target, aux_weight)


class BasicConv2d(nn.Module):
    """conv (bias=False) + BatchNorm2d(eps=0.001) + ReLU; keyword arguments go to the conv."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: ch1x1 + ch3x3 + ch5x5 + pool_proj out.

    Argument names follow torchvision (``ch5x5red``, ``ch5x5`` name branch3 even though
    its second conv is 3x3, see the module docstring).
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return F.cat(branches, 1)


inception_block = Inception


class InceptionAux(nn.Module):
    """Auxiliary classifier: 4x4 adaptive average pool, 1x1 conv to 128, fc1 (2048->1024), fc2."""

    def __init__(self, in_channels, num_classes, dropout=0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.relu(self.fc1(F.flatten(x, 1)))
        return self.fc2(self.dropout(x))


class GoogLeNet(nn.Module):
    """GoogLeNet with torchvision's keys (conv1..conv3, inception3a..5b, aux1, aux2, fc).

    ``init_weights=True`` (torchvision's choice when training from scratch): conv and
    linear weights from a normal with std 0.01 truncated to [-2, 2] (absolute bounds,
    so in effect untruncated), BatchNorm weight 1 and bias 0. ``init_weights=False``
    keeps the layers' default initialisation (kaiming-uniform), which also trains well
    since every conv is followed by batch norm.

    ``transform_input=True`` maps inputs normalised with ImageNet's mean/std to the
    (x - 0.5) / 0.5 scaling of the original Google weights (torchvision's option).

    Small inputs: 32x32 and up (the five stride-2 stages end on a 1x1 map, and the
    auxiliary classifiers' adaptive pooling accepts their 2x2 maps); the d2l lesson
    uses 96x96.
    """

    def __init__(self, num_classes=1000, in_channels=3, aux_logits=True, transform_input=False,
                 init_weights=True, dropout=0.2, dropout_aux=0.7):
        super().__init__()
        self.aux_logits = aux_logits
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
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2.0, b=2.0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1.0)
                    nn.init.constant_(m.bias, 0.0)

    def _transform_input(self, x):
        if not self.transform_input:
            return x
        scale = (0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5)
        shift = ((0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5)
        channels = [x[:, c:c + 1] * scale[c] + shift[c] for c in range(3)]
        return F.cat(channels, 1)

    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        with_aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = F.flatten(self.avgpool(x), 1)
        logits = self.fc(self.dropout(x))
        if with_aux:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


def googlenet(num_classes=1000, in_channels=3, **kwargs):
    """GoogLeNet in torchvision's layout (``aux_logits=True`` by default, as torchvision's class)."""
    return GoogLeNet(num_classes=num_classes, in_channels=in_channels, **kwargs)


def googlenet_loss(outputs, target, aux_weight=0.3):
    """Cross-entropy of GoogLeNet's outputs, auxiliary losses weighted as in the paper.

    ``outputs`` is what the model returned: in training mode with auxiliary classifiers
    a ``GoogLeNetOutputs``, giving

        loss = CE(logits) + aux_weight * (CE(aux_logits1) + CE(aux_logits2)),

    otherwise plain logits, giving CE(logits) (the auxiliary heads are dropped at
    inference).
    """
    if isinstance(outputs, GoogLeNetOutputs):
        loss = F.cross_entropy(outputs.logits, target)
        for aux in (outputs.aux_logits1, outputs.aux_logits2):
            if aux is not None:
                loss = loss + aux_weight * F.cross_entropy(aux, target)
        return loss
    return F.cross_entropy(outputs, target)
