from .bn_inception import BNInception
from .resnet32_cifar import ResNet32CIFAR

__all__ = ['BNInception', 'ResNet32CIFAR']
