from .class_balanced import ClassBalancedLoss, effective_number_weights
from .class_counts import CountBasedLoss, EpochAware, check_class_counts
from .dive import DiVELoss, dive_soft_targets
from .focal_loss import SoftmaxFocalLoss
from .gcl import GCLLoss, cloud_sizes
from .ifl_center_loss import IFLCenterLoss
from .kps import KPSLoss, kps_parameters
from .lade import LADELoss
from .ldam import LDAMLoss, ldam_margins
from .logit_adjusted import BalancedSoftmaxLoss, LogitAdjustedLoss
from .norm_softmax import NormSoftmaxLoss
from .paco_loss import PaCoLoss
from .ride_loss import RIDELoss, ride_temperatures
from .soft_triple import SoftTripleLoss

__all__ = [
    'SoftmaxFocalLoss', 'ClassBalancedLoss', 'LDAMLoss', 'BalancedSoftmaxLoss',
    'LogitAdjustedLoss', 'LADELoss', 'NormSoftmaxLoss', 'SoftTripleLoss',
    'KPSLoss', 'GCLLoss', 'CountBasedLoss', 'EpochAware', 'check_class_counts',
    'effective_number_weights', 'ldam_margins', 'kps_parameters',
    'cloud_sizes', 'DiVELoss', 'dive_soft_targets', 'IFLCenterLoss',
    'RIDELoss', 'ride_temperatures', 'PaCoLoss'
]
