"""torchvision's initialisation of its convolutional networks (ResNet, VGG, MobileNet)."""
from .. import nn


def init_conv_and_batch_norm(model):
    """Every Conv2d's weight He-normal for the ReLU after it, scaled by its fan-out
    (He et al. 2015, "Delving deep into rectifiers"), its bias 0; every BatchNorm2d the
    identity (weight 1, bias 0). In place; draws from minidl's default generator."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            if m.bias is not None:
                nn.init.constant_(m.bias, 0.0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1.0)
            nn.init.constant_(m.bias, 0.0)
