"""minidl.models.list_models / get_model (minidl/models/__init__.py)."""
import pytest

from minidl import models

NAMES = ['lenet5', 'lenet5_bn', 'alexnet', 'alexnet_2012', 'vgg11', 'vgg11_bn', 'vgg13',
         'vgg13_bn', 'vgg16', 'vgg16_bn', 'vgg19', 'vgg19_bn', 'nin', 'googlenet', 'resnet18',
         'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnext50_32x4d', 'densenet121',
         'mobilenet_v1']


def test_list_models():
    assert models.list_models() == NAMES


def test_get_model_passes_arguments():
    model = models.get_model('resnet18', num_classes=10, small_input=True)
    assert isinstance(model, models.ResNet)
    assert model.fc.weight.shape == (10, 512)
    assert model.conv1.weight.shape == (64, 3, 3, 3)


def test_get_model_unknown_name():
    with pytest.raises(ValueError, match="unknown model 'resnet19'"):
        models.get_model('resnet19')


@pytest.mark.parametrize('name', ['lenet5', 'lenet5_bn'])
def test_lenets_default_to_one_channel(name):
    model = models.get_model(name)
    assert model.state_dict()['0.weight'].shape == (6, 1, 5, 5)
    assert model.state_dict()['11.weight' if name == 'lenet5' else '15.weight'].shape == (1000, 84)
