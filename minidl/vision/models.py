"""``torchvision.models``: minidl's model zoo with torchvision's builder arguments.

    from minidl.vision import models
    net = models.resnet18(weights=None, num_classes=10)
    net.fc = nn.Linear(net.fc.in_features, 2)              # the fine-tuning tutorial's head

Every builder of ``minidl.models`` is here, and takes torchvision's ``weights``,
``progress`` and older ``pretrained`` besides its own arguments. minidl downloads no
weights: ``weights=None`` and ``pretrained=False`` build the freshly initialised model;
naming weights (``ResNet18_Weights.IMAGENET1K_V1``, ``'DEFAULT'``, ``pretrained=True``
or a file) raises an error that says where torchvision's file is and how to load it:
its keys are minidl's, so ``model.load_state_dict(minidl.load(path))`` does it.
The ``*_Weights`` enums carry torchvision's URLs and evaluation transforms.
"""
import enum
import functools
import os

from .. import models as _zoo
from ..models import (AlexNet, BasicBlock, Bottleneck, DenseNet, GoogLeNet, GoogLeNetOutputs,
                      LeNet5, MobileNetV1, NiN, ResNet, VGG)
from ..data import transforms as _T

_URL = 'https://download.pytorch.org/models/'
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class WeightsEnum(enum.Enum):
    """torchvision's weights enum: each member's value is ``(file name, resize size)``;
    ``url`` is where torchvision downloads it and ``transforms()`` its evaluation
    preprocessing (resize, 224 centre crop, ImageNet normalisation)."""

    @property
    def url(self):
        return _URL + self.value[0]

    def transforms(self):
        return _T.Compose([_T.Resize(self.value[1]), _T.CenterCrop(224), _T.ToTensor(),
                           _T.Normalize(_IMAGENET_MEAN, _IMAGENET_STD)])

    def get_state_dict(self, *args, **kwargs):
        raise RuntimeError(_download_advice(self, type(self).__name__))

    @classmethod
    def verify(cls, obj):
        """A member from itself or its name (``'IMAGENET1K_V1'``, ``'DEFAULT'``); None stays."""
        if obj is None or isinstance(obj, cls):
            return obj
        name = str(obj).split('.')[-1]
        try:
            return cls[name]
        except KeyError:
            raise ValueError(f'Invalid value {obj!r} for {cls.__name__}; choose from '
                             f'{", ".join(cls.__members__)}') from None


def _weights(name, files):
    """A WeightsEnum ``name`` with members {member: (file, resize)}; DEFAULT is the last."""
    members = dict(files)
    members['DEFAULT'] = list(files.values())[-1]   # an alias of the newest
    return WeightsEnum(name, members)


AlexNet_Weights = _weights('AlexNet_Weights', {'IMAGENET1K_V1': ('alexnet-owt-7be5be79.pth', 256)})
VGG11_Weights = _weights('VGG11_Weights', {'IMAGENET1K_V1': ('vgg11-8a719046.pth', 256)})
VGG11_BN_Weights = _weights('VGG11_BN_Weights', {'IMAGENET1K_V1': ('vgg11_bn-6002323d.pth', 256)})
VGG13_Weights = _weights('VGG13_Weights', {'IMAGENET1K_V1': ('vgg13-19584684.pth', 256)})
VGG13_BN_Weights = _weights('VGG13_BN_Weights', {'IMAGENET1K_V1': ('vgg13_bn-abd245e5.pth', 256)})
VGG16_Weights = _weights('VGG16_Weights', {'IMAGENET1K_V1': ('vgg16-397923af.pth', 256)})
VGG16_BN_Weights = _weights('VGG16_BN_Weights', {'IMAGENET1K_V1': ('vgg16_bn-6c64b313.pth', 256)})
VGG19_Weights = _weights('VGG19_Weights', {'IMAGENET1K_V1': ('vgg19-dcbb9e9d.pth', 256)})
VGG19_BN_Weights = _weights('VGG19_BN_Weights', {'IMAGENET1K_V1': ('vgg19_bn-c79401a0.pth', 256)})
GoogLeNet_Weights = _weights('GoogLeNet_Weights', {'IMAGENET1K_V1': ('googlenet-1378be20.pth', 256)})
ResNet18_Weights = _weights('ResNet18_Weights', {'IMAGENET1K_V1': ('resnet18-f37072fd.pth', 256)})
ResNet34_Weights = _weights('ResNet34_Weights', {'IMAGENET1K_V1': ('resnet34-b627a593.pth', 256)})
ResNet50_Weights = _weights('ResNet50_Weights', {'IMAGENET1K_V1': ('resnet50-0676ba61.pth', 256),
                                                 'IMAGENET1K_V2': ('resnet50-11ad3fa6.pth', 232)})
ResNet101_Weights = _weights('ResNet101_Weights',
                             {'IMAGENET1K_V1': ('resnet101-63fe2227.pth', 256),
                              'IMAGENET1K_V2': ('resnet101-cd907fc2.pth', 232)})
ResNet152_Weights = _weights('ResNet152_Weights',
                             {'IMAGENET1K_V1': ('resnet152-394f9c45.pth', 256),
                              'IMAGENET1K_V2': ('resnet152-f82ba261.pth', 232)})
ResNeXt50_32X4D_Weights = _weights('ResNeXt50_32X4D_Weights',
                                   {'IMAGENET1K_V1': ('resnext50_32x4d-7cdf4587.pth', 256),
                                    'IMAGENET1K_V2': ('resnext50_32x4d-1a0047aa.pth', 232)})
DenseNet121_Weights = _weights('DenseNet121_Weights',
                               {'IMAGENET1K_V1': ('densenet121-a639ec97.pth', 256)})

_WEIGHTS = {'alexnet': AlexNet_Weights, 'vgg11': VGG11_Weights, 'vgg11_bn': VGG11_BN_Weights,
            'vgg13': VGG13_Weights, 'vgg13_bn': VGG13_BN_Weights, 'vgg16': VGG16_Weights,
            'vgg16_bn': VGG16_BN_Weights, 'vgg19': VGG19_Weights, 'vgg19_bn': VGG19_BN_Weights,
            'googlenet': GoogLeNet_Weights, 'resnet18': ResNet18_Weights,
            'resnet34': ResNet34_Weights, 'resnet50': ResNet50_Weights,
            'resnet101': ResNet101_Weights, 'resnet152': ResNet152_Weights,
            'resnext50_32x4d': ResNeXt50_32X4D_Weights, 'densenet121': DenseNet121_Weights}

# what loading torchvision's file needs beyond load_state_dict, per model
_LOADING_NOTES = {
    'densenet121': "; first rename the file's old keys ('norm.1' to 'norm1', 'conv.2' to "
                   "'conv2' and so on), as torchvision does when it loads it",
}


def _download_advice(weights, model):
    """What to do instead of ``weights=`` (a member, a name, a file or pretrained=True)."""
    if isinstance(weights, (str, os.PathLike)) and (os.path.sep in os.fspath(weights)
                                                    or os.fspath(weights).endswith(('.pth', '.pt'))):
        return (f'{model}(weights={os.fspath(weights)!r}): minidl\'s builders load no files; '
                f'build the model with weights=None, then '
                f'model.load_state_dict(minidl.load({os.fspath(weights)!r}))')
    enum_class = _WEIGHTS.get(model) if not isinstance(weights, WeightsEnum) else type(weights)
    if enum_class is None:
        return (f'{model}: torchvision publishes no pretrained weights for this minidl model; '
                f'train it, or load a state dict of your own with load_state_dict')
    member = weights if isinstance(weights, WeightsEnum) else enum_class.verify(
        'DEFAULT' if weights is True else weights)
    file = member.value[0]
    note = _LOADING_NOTES.get(model, "; the file's keys are minidl's")
    return (f'{model}(weights={enum_class.__name__}.{member.name}): minidl downloads no pretrained '
            f'weights. Download torchvision\'s file {member.url} and load it into the model '
            f'built with weights=None: model.load_state_dict(minidl.load({file!r})) '
            f'(minidl.load reads PyTorch .pth files without PyTorch){note}')


def _builder(name):
    make = getattr(_zoo, name)

    @functools.wraps(make)
    def build(*args, weights=None, progress=True, pretrained=False, **kwargs):
        if weights is not None or pretrained:
            raise RuntimeError(_download_advice(weights if weights is not None else True, name))
        return make(*args, **kwargs)

    build.__doc__ = (f'{(make.__doc__ or name).strip()}\n\ntorchvision\'s arguments: '
                     f'weights=None and pretrained=False build it freshly initialised; naming '
                     f'weights raises an error that says how to load torchvision\'s file.')
    return build


for _name in _zoo.list_models():
    globals()[_name] = _builder(_name)
del _name


def list_models():
    """The names of the models here (every model of minidl's zoo)."""
    return _zoo.list_models()


def get_model(name, *, weights=None, **config):
    """Build the model ``name`` (``list_models()``), as ``torchvision.models.get_model``."""
    if name not in _zoo.list_models():
        raise ValueError(f'get_model: unknown model {name!r}; known models: '
                         f'{", ".join(_zoo.list_models())}')
    return globals()[name](weights=weights, **config)


def get_model_weights(name):
    """The weights enum of the model ``name`` (ValueError when torchvision has none)."""
    if name not in _WEIGHTS:
        raise ValueError(f'get_model_weights: torchvision has no weights for {name!r}')
    return _WEIGHTS[name]


def get_weight(name):
    """The member named like ``'ResNet18_Weights.IMAGENET1K_V1'``."""
    enum_name, _, member = name.partition('.')
    for enum_class in _WEIGHTS.values():
        if enum_class.__name__ == enum_name:
            return enum_class.verify(member)
    raise ValueError(f'get_weight: unknown weights {name!r}')
