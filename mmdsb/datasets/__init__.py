from .bilateral_sampler import BilateralSampler
from .cars_retrieval import StanfordCarsRetrieval
from .cifar100_retrieval import CIFAR100Retrieval
from .cifar_lt import CIFAR10LT, CIFAR100LT
from .class_disjoint import (ClassDisjointDataset, disjoint_long_tailed_counts,
                             seeded_class_subset)
from .cub_retrieval import CUBRetrieval
from .digits_lt import DigitsLT, long_tailed_counts
from .ifl_env_sampler import IFLEnvSampler
from .lt_lists import (INaturalist2018, ImageNetLT, MSCOCOGLT, PlacesLT,
                       read_split_list)
from .mini_imagenet import MiniImageNetRetrieval
from .mnist_lt import MNIST_LT_COUNTS, MNISTLT, read_idx
from .reversed_sampler import ReversedSampler, reversed_class_probabilities
from .samplers import (CBENSampler, ClassAwareSampler,
                       cben_class_probabilities)

__all__ = [
    'DigitsLT', 'long_tailed_counts', 'CIFAR10LT', 'CIFAR100LT', 'CBENSampler',
    'ClassAwareSampler', 'cben_class_probabilities', 'MNISTLT',
    'MNIST_LT_COUNTS', 'read_idx', 'ImageNetLT', 'PlacesLT', 'INaturalist2018',
    'MSCOCOGLT', 'read_split_list', 'ClassDisjointDataset',
    'disjoint_long_tailed_counts', 'seeded_class_subset', 'CUBRetrieval',
    'StanfordCarsRetrieval', 'MiniImageNetRetrieval', 'CIFAR100Retrieval',
    'ReversedSampler', 'reversed_class_probabilities', 'BilateralSampler',
    'IFLEnvSampler'
]
