from .bn_inception import BNInception
from .resnet32_cifar import ResNet32CIFAR
from .ride_resnet import RIDEResNet

__all__ = ['BNInception', 'ResNet32CIFAR', 'RIDEResNet']
