"""Per-class accuracy and model bias (paper App. H.2), MSCOCO-GLT accuracy
and precision (App. H.3, Table 11), and the retrieval metrics of deep
metric learning (Sec. 5.3, App. D.5)."""
import csv
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmpretrain.registry import METRICS

from ..guards import positive_int, positive_number

__all__ = [
    'model_bias', 'PerClassAccuracy', 'GLTAccuracy', 'RetrievalMetric',
    'recall_at_k', 'kmeans_nmi'
]


def _labels_and_preds(results: List[dict], name: str):
    if not results:
        raise ValueError(f'{name} got no samples to evaluate')
    gt = torch.cat([r['gt_label'] for r in results]).long()
    pred = torch.cat([r['pred_label'] for r in results]).long()
    return gt, pred


def _collect(sample: dict, name: str) -> dict:
    """gt_label and top-1 pred_label of one single-label sample."""
    if 'gt_label' not in sample:
        raise ValueError(f'{name} needs gt_label in each data sample')
    gt = torch.as_tensor(sample['gt_label']).cpu().reshape(-1)
    if 'pred_score' in sample:
        pred = sample['pred_score'].cpu().reshape(-1).argmax().reshape(1)
    elif 'pred_label' in sample:
        pred = torch.as_tensor(sample['pred_label']).cpu().reshape(-1)
    else:
        raise ValueError(f'{name} needs pred_score or pred_label in each '
                         'data sample')
    if gt.numel() != 1 or pred.numel() != 1:
        raise ValueError(f'{name} expects one gt_label and one prediction '
                         'per sample (single-label)')
    return dict(gt_label=gt, pred_label=pred)


def model_bias(accuracy: Sequence[Optional[float]],
               eps: float = 1e-3) -> Optional[float]:
    """CDB model bias ``max(max_c A_c / (min_c A_c + eps) - 1, 0)`` over
    the classes with an accuracy (``None`` = no evaluation samples);
    accuracies are fractions in [0, 1]. ``None`` without any class."""
    acc = [a for a in accuracy if a is not None]
    if not acc:
        return None
    return max(max(acc) / (min(acc) + eps) - 1.0, 0.0)


def _num_classes(meta: Optional[dict], given: Optional[int], gt, pred,
                 name: str) -> int:
    meta = meta or {}
    n = given or (len(meta['train_class_counts'])
                  if 'train_class_counts' in meta else None) or (
                      len(meta['classes']) if 'classes' in meta else None)
    top = int(max(gt.max(), pred.max())) + 1
    if n is None:
        return top
    if top > n:
        raise ValueError(f'{name}: labels reach {top - 1} but the dataset '
                         f'has {n} classes')
    return n


@METRICS.register_module()
class PerClassAccuracy(BaseMetric):
    """Per-class top-1 accuracy, the CDB model bias and, optionally, the
    Pearson correlations of per-class accuracy with ``N``, ``E_n``, ``W``,
    ``S'`` and ``S`` (paper Table 1).

    Reported keys (prefix ``per_class``): ``bias`` (CDB, on fractions),
    ``min`` and ``max`` (percent, over classes with evaluation samples) and,
    with ``feature_file``, ``pearson_N``, ``pearson_E_n``, ``pearson_W``,
    ``pearson_S'`` and ``pearson_S(alpha=a)`` for ``a`` in 1..3 (keys whose
    correlation is undefined, e.g. constant N, are left out and logged).

    After each evaluation a CSV ``class,num_eval,correct,accuracy`` (empty
    accuracy for classes without samples) is written to ``out_file``;
    by default ``per_class_accuracy.csv`` next to the current run's log,
    i.e. inside the work dir.

    Args:
        num_classes: number of classes; defaults to the length of the
            dataset's ``train_class_counts`` or ``classes``.
        eps: ``eps`` of the bias (1e-3).
        out_file: CSV path; ``''`` writes none.
        feature_file: a ``torch.save`` file with ``feats`` (or
            ``features``), ``(N, D)``, and ``labels``, ``(N,)``: a DSB
            feature-bank state dict or a feature dump of the training set.
        alpha: ``alpha`` of ``W`` (2.0).
    """
    default_prefix = 'per_class'

    def __init__(self,
                 num_classes: Optional[int] = None,
                 eps: float = 1e-3,
                 out_file: Optional[str] = None,
                 feature_file: Optional[str] = None,
                 alpha: float = 2.0,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        eps = positive_number(eps, 'eps', 'PerClassAccuracy')
        if feature_file is not None and not osp.isfile(feature_file):
            raise FileNotFoundError(
                f'PerClassAccuracy: feature file not found: {feature_file}')
        self.num_classes, self.eps, self.alpha = num_classes, eps, alpha
        self.out_file, self.feature_file = out_file, feature_file
        self.per_class_accuracy: Optional[List[Optional[float]]] = None

    def process(self, data_batch, data_samples: Sequence[dict]):
        for sample in data_samples:
            self.results.append(_collect(sample, 'PerClassAccuracy'))

    def _out_file(self) -> Optional[str]:
        if self.out_file is not None:
            return self.out_file or None
        log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
        if not log_file:
            return None
        return osp.join(osp.dirname(log_file), 'per_class_accuracy.csv')

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        gt, pred = _labels_and_preds(results, 'PerClassAccuracy')
        n = _num_classes(self.dataset_meta, self.num_classes, gt, pred,
                         'PerClassAccuracy')
        total = torch.bincount(gt, minlength=n)
        correct = torch.bincount(gt[pred == gt], minlength=n)
        frac = [int(c) / int(t) if t > 0 else None
                for c, t in zip(correct, total)]
        self.per_class_accuracy = [None if a is None else 100.0 * a
                                   for a in frac]
        present = [a for a in frac if a is not None]
        metrics = dict(bias=model_bias(frac, self.eps),
                       min=100.0 * min(present), max=100.0 * max(present))
        if self.feature_file:
            metrics.update(self._correlations(n))
        path = self._out_file()
        if path:
            self._write_csv(path, total, correct)
        return metrics

    def _correlations(self, n: int) -> Dict[str, float]:
        # Imported here: the analysis package pulls in plotting helpers.
        from mmdsb.analysis.report import ClassStats, correlations
        dump = torch.load(self.feature_file, map_location='cpu')
        feats = dump.get('feats', dump.get('features')) if isinstance(
            dump, dict) else None
        labels = dump.get('labels') if isinstance(dump, dict) else None
        if feats is None or labels is None or feats.ndim != 2 or \
                labels.shape != feats.shape[:1]:
            raise ValueError(
                f'PerClassAccuracy: {self.feature_file} must hold "feats" '
                '(or "features") of shape (N, D) and "labels" of shape (N,)')
        labels = labels.long()
        if labels.min() < 0 or labels.max() >= n:
            raise ValueError(f'PerClassAccuracy: labels of '
                             f'{self.feature_file} must lie in [0, {n})')
        stats = ClassStats(feats.double(), labels, n)
        result = correlations(stats, self.per_class_accuracy, self.alpha)
        out = {}
        for key, value in result['pearson'].items():
            if value is None:
                print_log(f'PerClassAccuracy: the correlation with {key} is '
                          'undefined (constant series or < 2 classes); not '
                          'reported', logger='current')
            else:
                out[f'pearson_{key}'] = value
        return out

    def _write_csv(self, path, total, correct):
        classes = (self.dataset_meta or {}).get('classes')
        if classes is None or len(classes) != len(total):
            classes = [str(i) for i in range(len(total))]
        if osp.dirname(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['class', 'num_eval', 'correct', 'accuracy'])
            for name, t, c, a in zip(classes, total, correct,
                                     self.per_class_accuracy):
                writer.writerow([name, int(t), int(c),
                                 '' if a is None else f'{a:.4f}'])


@METRICS.register_module()
class GLTAccuracy(BaseMetric):
    """Accuracy and precision of the generalized long-tailed protocols
    (CLT, GLT, ALT; Tang et al., 2022), in percent.

    - ``accuracy``: correct predictions over all evaluated images.
    - ``precision``: macro precision, the mean over the classes with
      evaluation samples of ``TP_c / (TP_c + FP_c)``; a class that is never
      predicted has precision 0 (nothing it retrieved is right).

    Without a ``prefix`` the keys are named after the protocol of the
    evaluated dataset (``clt/accuracy``, ...; ``glt_protocol`` in its
    metainfo, as :class:`MSCOCOGLT` sets it), else ``glt``.
    """
    default_prefix = 'glt'

    def __init__(self, num_classes: Optional[int] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes
        self._prefix_from_protocol = prefix is None

    @BaseMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        if self._prefix_from_protocol and dataset_meta and \
                dataset_meta.get('glt_protocol'):
            self.prefix = dataset_meta['glt_protocol']

    def process(self, data_batch, data_samples: Sequence[dict]):
        for sample in data_samples:
            self.results.append(_collect(sample, 'GLTAccuracy'))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        gt, pred = _labels_and_preds(results, 'GLTAccuracy')
        n = _num_classes(self.dataset_meta, self.num_classes, gt, pred,
                         'GLTAccuracy')
        hit = pred == gt
        tp = torch.bincount(gt[hit], minlength=n).double()
        predicted = torch.bincount(pred, minlength=n).double()
        evaluated = torch.bincount(gt, minlength=n) > 0
        precision = torch.where(predicted > 0, tp / predicted.clamp_min(1),
                                torch.zeros_like(tp))
        return dict(accuracy=100.0 * hit.double().mean().item(),
                    precision=100.0 * precision[evaluated].mean().item())


# Similarities held per block of queries: 2**23 float64 values (64 MiB).
_BLOCK_ELEMENTS = 1 << 23


def _first_occurrences(x: torch.Tensor):
    """The rows of ``x`` equal to an earlier row and, for each, the index
    of the first row equal to it."""
    _, group = torch.unique(x, dim=0, return_inverse=True)
    index = torch.arange(len(x), device=x.device)
    first = torch.full((int(group.max()) + 1, ), len(x), device=x.device,
                       dtype=torch.long).scatter_reduce_(
                           0, group, index, 'amin')[group]
    repeated = (first != index).nonzero().squeeze(1)
    return repeated, first[repeated]


def _nearest_others(x: torch.Tensor, k: int,
                    block_size: int) -> torch.Tensor:
    """Indices ``(N, k)`` of the ``k`` most similar other rows of ``x``
    (rows of unit vectors), most similar first, equal similarities in
    ascending index order: the first ``k`` of a stable descending sort of
    each row of ``x @ x.T`` without its diagonal.

    Queries go in blocks of ``block_size`` rows, so that memory grows with
    ``block_size * N`` and not ``N ** 2``. A repeated row takes the
    similarities of its first occurrence: a BLAS (MKL, for one) may round
    the products with two equal columns differently, which would break
    their ties by rounding instead of by index.
    """
    n = len(x)
    repeated, first = _first_occurrences(x)
    out = torch.empty((n, k), dtype=torch.long, device=x.device)
    for start in range(0, n, block_size):
        sim = x[start:start + block_size] @ x.T
        if len(repeated):
            sim[:, repeated] = sim[:, first]
        rows = torch.arange(len(sim), device=x.device)
        sim[rows, rows + start] = -float('inf')  # never retrieve oneself
        # k < n: the (k + 1)-th similarity exists (at worst the diagonal).
        val, idx = sim.topk(k + 1, dim=1)
        idx = idx[:, :k].sort(dim=1).values
        # Where the k-th similarity is shared by more samples than fit,
        # those tied at it fill the places left by ascending index.
        crowded = (val[:, k] == val[:, k - 1]).nonzero().squeeze(1)
        if len(crowded):
            part, kth = sim[crowded], val[crowded, k - 1:k]
            above, tied = part > kth, part == kth
            room = k - above.sum(1, keepdim=True)
            keep = above | (tied & (tied.cumsum(1) <= room))
            idx[crowded] = keep.nonzero()[:, 1].view(-1, k)
        order = sim.gather(1, idx).sort(
            dim=1, descending=True, stable=True).indices
        out[start:start + len(sim)] = idx.gather(1, order)
    return out


def recall_at_k(embeddings, labels, ks: Sequence[int] = (1, 2, 4, 8),
                block_size: Optional[int] = None) -> Dict[int, float]:
    """Recall@K (percent) of retrieval among the evaluated samples: a
    query counts as found if one of its ``K`` nearest other samples
    (cosine similarity) shares its label.

    Neighbours are ranked by similarity, equal similarities by the lower
    sample index (a stable sort). The similarities are float64 and taken
    on the embeddings' device (a tensor's, else the CPU) in blocks of
    ``block_size`` queries (by default about 2**23 similarities a block),
    so that memory grows with ``N * block_size`` and not ``N ** 2``.

    Args:
        embeddings: ``(N, D)`` array or tensor.
        labels: ``(N,)`` labels (any comparable values for an array).
        ks: the ``K`` of Recall@K, integers >= 1.
        block_size: queries per block.
    """
    if isinstance(embeddings, torch.Tensor):
        x = embeddings.detach().to(torch.float64)
    else:
        x = torch.as_tensor(np.asarray(embeddings, dtype=np.float64))
    if x.ndim != 2:
        raise ValueError(f'recall_at_k expects (N, D) embeddings, got shape '
                         f'{tuple(x.shape)}')
    if not bool(torch.isfinite(x).all()):
        raise ValueError('recall_at_k: the embeddings contain NaN or '
                         'infinite values')
    if isinstance(labels, torch.Tensor):
        y = labels.detach().reshape(-1).to(x.device)
    else:
        # Integer codes of the labels, equal exactly where the labels are.
        y = torch.as_tensor(np.unique(np.asarray(labels).reshape(-1),
                                      return_inverse=True)[1].reshape(-1),
                            device=x.device)
    if len(y) != len(x):
        raise ValueError(f'recall_at_k got {len(x)} embeddings and '
                         f'{len(y)} labels')
    for k in ks:
        positive_int(k, 'every k in ks', 'recall_at_k')
    k_max = int(max(ks))
    if k_max >= len(x):
        raise ValueError(f'Recall@{k_max} needs more than {k_max} '
                         f'evaluated samples, got {len(x)}')
    if block_size is None:
        block_size = max(1, _BLOCK_ELEMENTS // len(x))
    else:
        block_size = positive_int(block_size, 'block_size', 'recall_at_k')
    norm = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    x = x / norm.clamp_min(1e-12)
    match = y[_nearest_others(x, k_max, int(block_size))] == y[:, None]
    found = match.cummax(dim=1).values.sum(0)  # hits within the first K
    return {k: 100.0 * (int(found[int(k) - 1]) / len(x)) for k in ks}


def kmeans_nmi(embeddings: np.ndarray, labels: np.ndarray,
               seed: int = 0) -> float:
    """NMI (percent) between the labels and K-means clusters (K = the
    number of distinct labels) of the L2-normalised embeddings."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score
    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    k = len(np.unique(labels))
    clusters = KMeans(n_clusters=k, n_init=10,
                      random_state=seed).fit_predict(x)
    return 100.0 * float(normalized_mutual_info_score(labels, clusters))


@METRICS.register_module()
class RetrievalMetric(BaseMetric):
    """Recall@K and K-means NMI of deep metric learning (paper Sec. 5.3 and
    App. D.5, Tables 4, 5, 8, 9).

    The embedding of a sample is its ``embedding_key`` field: in metric
    learning ``'embedding'``, which the metric-learning heads
    (``CosineClsHead``, ``SoftTripleHead`` and their DSB forms) put in
    every prediction; the default ``'pred_score'`` (class scores) only
    means something when the evaluated classes are the trained ones.
    Retrieval runs among the evaluated samples (leave-one-out nearest
    neighbours by cosine similarity) and K-means takes K = the number of
    distinct labels, so the test classes may be unseen in training and
    numbered independently of the head's classes.

    Samples are ordered by their dataset index (``sample_idx``) and each
    index counts once, so the result does not depend on the number of
    processes, the order in which their results are gathered or the
    samples a distributed sampler repeats to fill its last batch.

    Keys (percent): ``R@1``, ``R@2``, ... and ``NMI``. After each
    evaluation :attr:`num_samples` and :attr:`num_classes` hold the size of
    the evaluated set; :meth:`format_table` lays the result out as a text
    table (``tools/test.py`` prints it).

    Args:
        ks: the ``K`` of Recall@K (1, 2, 4, 8).
        embedding_key: data-sample field with the embedding.
        seed: random state of K-means (10 initialisations).
        collect_device: ``'cpu'`` or ``'gpu'``, how mmengine gathers the
            results of all ranks.
        prefix: key prefix (``retrieval``).
    """
    default_prefix = 'retrieval'

    def __init__(self, ks: Sequence[int] = (1, 2, 4, 8),
                 embedding_key: str = 'pred_score', seed: int = 0,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not ks:
            raise ValueError('RetrievalMetric: ks must name at least one K')
        self.ks = tuple(
            positive_int(k, 'every k in ks', 'RetrievalMetric') for k in ks)
        self.embedding_key, self.seed = embedding_key, seed
        self.num_samples: Optional[int] = None
        self.num_classes: Optional[int] = None

    def process(self, data_batch, data_samples: Sequence[dict]):
        for sample in data_samples:
            if self.embedding_key not in sample:
                hint = (" (metric learning: set embedding_key='embedding' "
                        'with a head that outputs it, e.g. CosineClsHead '
                        'or SoftTripleHead)') \
                    if self.embedding_key != 'embedding' else (
                        ': the head does not output embeddings; use '
                        'CosineClsHead or SoftTripleHead (or their DSB '
                        'forms)')
                raise ValueError(f'RetrievalMetric: the data samples have '
                                 f'no {self.embedding_key!r}{hint}')
            if 'gt_label' not in sample:
                raise ValueError('RetrievalMetric needs gt_label in each '
                                 'data sample')
            self.results.append(dict(
                embedding=torch.as_tensor(
                    sample[self.embedding_key]).detach().cpu().reshape(-1),
                gt_label=int(torch.as_tensor(sample['gt_label']).reshape(
                    -1)[0]),
                sample_idx=sample.get('sample_idx')))

    @staticmethod
    def _unique_in_dataset_order(results: List[dict]) -> List[dict]:
        if any(r['sample_idx'] is None for r in results):
            return results  # no dataset index: keep the gathered order
        by_index = {}
        for r in results:
            by_index.setdefault(int(r['sample_idx']), r)
        return [by_index[i] for i in sorted(by_index)]

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError('RetrievalMetric got no samples to evaluate')
        results = self._unique_in_dataset_order(results)
        dims = {r['embedding'].numel() for r in results}
        if len(dims) != 1:
            raise ValueError(f'RetrievalMetric: embeddings of different '
                             f'sizes {sorted(dims)}')
        x = torch.stack([r['embedding'] for r in results]).double()
        if not bool(torch.isfinite(x).all()):
            raise ValueError('RetrievalMetric: the embeddings contain NaN or '
                             'infinite values')
        y = np.array([r['gt_label'] for r in results])
        self.num_samples, self.num_classes = len(y), len(np.unique(y))
        metrics = {f'R@{k}': v
                   for k, v in recall_at_k(x, y, self.ks).items()}
        metrics['NMI'] = kmeans_nmi(x.numpy(), y, self.seed)
        return metrics

    def format_table(self, metrics: Dict[str, float]) -> str:
        """The keys of this metric in ``metrics`` (as the evaluator returns
        them, prefixed) as a text table."""
        prefix = f'{self.prefix}/' if self.prefix else ''
        names = [f'R@{k}' for k in self.ks] + ['NMI']
        missing = [n for n in names if prefix + n not in metrics]
        if missing:
            raise KeyError(f'format_table: {missing} not in the metrics')
        size = '' if self.num_samples is None else (
            f' ({self.num_samples} images of {self.num_classes} classes)')
        head = ' '.join(f'{n:>6}' for n in names)
        row = ' '.join(f'{metrics[prefix + n]:6.2f}' for n in names)
        return f'Retrieval on the test set{size}:\n{head}\n{row}'
