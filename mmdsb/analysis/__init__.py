"""Semantic-scale analysis of datasets and models (the library behind
``tools/analysis_tools``): per-class reports, marginal-effect curves,
well-represented subsets, a collection stopping rule and parent matching,
for classifiers and (one sample per ground-truth instance) mmdet detectors.
"""
from .data import (AnalysisError, build_dataset, class_names, image_vector,
                   load_config, sample_vectors)
from .checkpoint import check_state_dict, read_state_dict
from .det_data import crop_vectors, frequency_groups, is_detection
from .det_features import (DetSplitFeatures, per_class_ap,
                           split_instance_features)
from .features import SplitFeatures, captured_pre_logits, split_features
from .marginal import marginal_curves, prefix_volumes, size_grid
from .parents import parent_ratios
from .report import (DEFAULT_BETA, TABLE1_ALPHAS, ClassStats, class_table,
                     correlations, effective_number, overall_accuracy,
                     pearson, per_class_accuracy, split_report)
from .runner_model import RunnerModel, build_runner
from .sampling import pizza_subset, subset_volumes
from .stopping import collection_curve

__all__ = [
    'AnalysisError', 'build_dataset', 'class_names', 'image_vector',
    'load_config', 'sample_vectors', 'check_state_dict', 'read_state_dict',
    'SplitFeatures', 'captured_pre_logits', 'split_features', 'RunnerModel',
    'build_runner', 'marginal_curves', 'prefix_volumes', 'size_grid',
    'parent_ratios', 'DEFAULT_BETA', 'TABLE1_ALPHAS', 'ClassStats',
    'class_table', 'correlations', 'effective_number', 'overall_accuracy',
    'pearson', 'per_class_accuracy', 'split_report', 'pizza_subset',
    'subset_volumes', 'collection_curve', 'crop_vectors',
    'frequency_groups', 'is_detection', 'DetSplitFeatures', 'per_class_ap',
    'split_instance_features'
]
