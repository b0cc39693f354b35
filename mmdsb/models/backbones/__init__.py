from .resnet32_cifar import ResNet32CIFAR

__all__ = ['ResNet32CIFAR']
