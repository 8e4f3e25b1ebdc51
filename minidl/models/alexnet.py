"""AlexNet: torchvision's version and the 2012 paper's (Krizhevsky, Sutskever and Hinton).

``alexnet`` is torchvision's model, module for module (64-192-384-256-256 channels,
no LRN, adaptive average pooling to 6x6), so its checkpoints load unchanged.

``alexnet_2012`` is the paper's network on one device: 96-256-384-384-256 channels,
11x11 stride-4 first convolution, ReLU then local response normalisation then
overlapping 3x3 stride-2 max-pooling after conv1 and conv2, and two hidden layers of
4096 units with dropout 0.5. The paper's LRN is

    b = a / (k + alpha * sum_{n neighbours} a^2) ** beta,  k=2, n=5, alpha=1e-4, beta=0.75,

while PyTorch's ``LocalResponseNorm(size, alpha, beta, k)`` divides alpha by ``size``:
b = a / (k + alpha / size * sum a^2) ** beta. So the paper's layer is
``LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)``.

Parameters (1000 classes): ``alexnet`` 61,100,840; ``alexnet_2012`` 62,378,344, or
60,965,224 with ``grouped=True`` (conv2, conv4 and conv5 split in two groups, the
paper's two-GPU connectivity: its "60 million parameters").
"""
from .. import nn
from .. import functional as F

__all__ = ['AlexNet', 'AlexNet2012', 'alexnet', 'alexnet_2012']


def _classifier(dropout, num_classes):
    """Both versions' head: two hidden layers of 4096 units with dropout before each,
    on the 256 x 6 x 6 pooled features."""
    return nn.Sequential(
        nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
        nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, num_classes))


class AlexNet(nn.Module):
    """torchvision's AlexNet: ``features``, ``avgpool`` (6x6), ``classifier`` with dropout.

    Small inputs: any size from 63x63 up runs (the adaptive 6x6 pooling fixes the
    classifier's input); the lessons resize Fashion-MNIST to 224x224. Below 63x63 the
    feature maps vanish before the last pooling.
    """

    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = _classifier(dropout, num_classes)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(F.flatten(x, 1))


class AlexNet2012(nn.Module):
    """The 2012 paper's AlexNet (see the module docstring for the LRN constants).

    ``grouped=True`` splits conv2, conv4 and conv5 in two groups as the paper's two
    GPUs did. ``paper_init=True`` initialises as the paper: weights N(0, 0.01),
    biases 1 in conv2, conv4, conv5 and the hidden fully connected layers, 0 elsewhere
    (otherwise PyTorch's default initialisation, which trains more readily).

    The paper feeds 227x227 crops (conv1 without padding gives 55x55 and 6x6 maps at
    the end); an ``AdaptiveAvgPool2d((6, 6))`` before the classifier, as in
    torchvision, lets other sizes through. Small inputs: 67x67 and up (e.g. 96x96 or
    Fashion-MNIST resized to 224x224).
    """

    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5, grouped=False,
                 paper_init=False):
        super().__init__()
        groups = 2 if grouped else 1
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, kernel_size=11, stride=4), nn.ReLU(),
            nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=groups), nn.ReLU(),
            nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=groups), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=groups), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = _classifier(dropout, num_classes)
        if paper_init:
            self._paper_init()

    def _paper_init(self):
        bias_one = {self.features[4], self.features[10], self.features[12],
                    self.classifier[1], self.classifier[4]}
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.constant_(m.bias, 1.0 if m in bias_one else 0.0)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(F.flatten(x, 1))


def alexnet(num_classes=1000, in_channels=3, **kwargs):
    """torchvision's AlexNet (61,100,840 parameters at 1000 classes)."""
    return AlexNet(num_classes=num_classes, in_channels=in_channels, **kwargs)


def alexnet_2012(num_classes=1000, in_channels=3, **kwargs):
    """The 2012 paper's AlexNet with LRN (``grouped``, ``paper_init`` options: see AlexNet2012)."""
    return AlexNet2012(num_classes=num_classes, in_channels=in_channels, **kwargs)
