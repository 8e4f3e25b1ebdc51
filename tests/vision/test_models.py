import pytest

import minidl
from minidl import models as zoo
from minidl.vision import models

pytestmark = pytest.mark.cpu_only


def test_every_zoo_model_with_torchvisions_arguments():
    assert models.list_models() == zoo.list_models()
    for name in models.list_models():
        assert callable(getattr(models, name))
    net = models.resnet18(weights=None, progress=False, num_classes=7)
    assert isinstance(net, models.ResNet) and net.fc.out_features == 7
    assert isinstance(models.vgg11(pretrained=False), models.VGG)
    assert isinstance(models.get_model('lenet5', weights=None, num_classes=10), zoo.LeNet5)


@pytest.mark.parametrize('weights', [models.ResNet18_Weights.IMAGENET1K_V1, 'IMAGENET1K_V1',
                                     'DEFAULT', 'ResNet18_Weights.DEFAULT'])
def test_named_weights_say_how_to_load_torchvisions_file(weights):
    with pytest.raises(RuntimeError) as error:
        models.resnet18(weights=weights)
    message = str(error.value)
    assert 'https://download.pytorch.org/models/resnet18-f37072fd.pth' in message
    assert "model.load_state_dict(minidl.load('resnet18-f37072fd.pth'))" in message


def test_pretrained_files_and_models_torchvision_lacks():
    with pytest.raises(RuntimeError, match='ResNet50_Weights.IMAGENET1K_V2'):
        models.resnet50(pretrained=True)          # torchvision's DEFAULT for ResNet-50
    with pytest.raises(RuntimeError, match=r"load_state_dict\(minidl.load\('w/alex.pth'\)\)"):
        models.alexnet(weights='w/alex.pth')
    with pytest.raises(RuntimeError, match='torchvision publishes no pretrained weights'):
        models.mobilenet_v1(pretrained=True)
    with pytest.raises(ValueError, match='Invalid value'):
        models.resnet18(weights='IMAGENET22K')


def test_weights_enums_carry_urls_and_evaluation_transforms():
    w = models.get_weight('VGG16_Weights.IMAGENET1K_V1')
    assert w is models.VGG16_Weights.DEFAULT and w.url.endswith('vgg16-397923af.pth')
    assert models.get_model_weights('resnet50').DEFAULT is models.ResNet50_Weights.IMAGENET1K_V2
    image = minidl.rand(3, 300, 260)
    assert models.ResNet50_Weights.DEFAULT.transforms()(image).shape == (3, 224, 224)
