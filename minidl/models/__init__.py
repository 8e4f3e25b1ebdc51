"""The classic CNNs, one family per file, in torchvision's module layout where it has them.

    from minidl import models
    net = models.resnet18(num_classes=10, small_input=True)     # CIFAR-10
    net = models.get_model('densenet121', num_classes=10)
    models.list_models()                                         # every name below

Every constructor takes ``num_classes`` (default 1000) and ``in_channels`` (default 3,
1 for the LeNets). Where torchvision has the model, module names and state_dict keys
are torchvision's (``features.0.weight``, ``layer1.0.downsample.0.weight``,
``features.denseblock1.denselayer1.norm1.weight``, ...), so its checkpoints load with
``load_state_dict`` unchanged.

Small inputs, per model (the lessons: 28x28 Fashion-MNIST, 32x32 CIFAR, 96x96 or
224x224 resized images):

=================  ===============================  ==========================================
model              smallest input                   how
=================  ===============================  ==========================================
lenet5, lenet5_bn  28x28 exactly                    built for it (first conv pads by 2)
alexnet            63x63                            adaptive 6x6 pooling before the classifier
alexnet_2012       67x67 (paper: 227x227)           adaptive 6x6 pooling before the classifier
vgg11 ... vgg19_bn 32x32                            adaptive 7x7 pooling (1x1 map repeated)
nin                67x67 (lessons: 96 or 224)       global average pooling
googlenet          32x32 (lesson: 96x96)            adaptive pooling, also in the aux heads
resnet*, resnext   32x32                            ``small_input=True``: CIFAR stem (3x3
                                                    stride-1 conv, no max-pool); without it
                                                    32x32 also runs, ending on 1x1 maps
densenet121        32x32                            global pooling; ``small_input=True``:
                                                    3x3 stride-1 stem, no max-pool
mobilenet_v1       32x32                            global pooling; ``width_mult`` shrinks it
=================  ===============================  ==========================================
"""
from .lenet import LeNet5, lenet5, lenet5_bn
from .alexnet import AlexNet, AlexNet2012, alexnet, alexnet_2012
from .vgg import (VGG, VGG_ARCHS, vgg_block, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn,
                  vgg19, vgg19_bn)
from .nin import NiN, nin_block, nin
from .googlenet import (GoogLeNet, GoogLeNetOutputs, BasicConv2d, Inception, InceptionAux,
                        inception_block, googlenet, googlenet_loss)
from .resnet import (BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101,
                     resnet152, resnext50_32x4d)
from .densenet import DenseLayer, DenseBlock, Transition, DenseNet, densenet121
from .mobilenet import DepthwiseSeparableConv, MobileNetV1, mobilenet_v1

_MODELS = {f.__name__: f for f in (
    lenet5, lenet5_bn, alexnet, alexnet_2012,
    vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn,
    nin, googlenet,
    resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d,
    densenet121, mobilenet_v1)}


# The smallest input (height = width) each model takes, from the table above.
_SMALLEST_INPUT = {'lenet5': 28, 'lenet5_bn': 28, 'alexnet': 63, 'alexnet_2012': 67, 'nin': 67,
                   **{name: 32 for name in _MODELS if name.startswith(
                       ('vgg', 'googlenet', 'resnet', 'resnext', 'densenet', 'mobilenet'))}}


def smallest_input(name):
    """The smallest square input (pixels) model ``name`` takes (the table above)."""
    return _SMALLEST_INPUT[name]


def small_input_kwargs(name, size):
    """Constructor arguments for ``size`` x ``size`` images: ``small_input=True`` (the
    CIFAR stem) for the models that have it (ResNet, ResNeXt, DenseNet) at 64 or less."""
    if size is not None and size <= 64 and name.startswith(('resnet', 'resnext', 'densenet')):
        return {'small_input': True}
    return {}


def list_models():
    """The names ``get_model`` knows, in the order of the lessons."""
    return list(_MODELS)


def get_model(name, **kwargs):
    """Build the model called ``name`` (see ``list_models()``); keyword arguments go to it."""
    try:
        builder = _MODELS[name]
    except KeyError:
        raise ValueError(f'get_model: unknown model {name!r}; known models: '
                         f'{", ".join(_MODELS)}') from None
    return builder(**kwargs)
