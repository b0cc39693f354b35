from .focal_loss import SoftmaxFocalLoss

__all__ = ['SoftmaxFocalLoss']
