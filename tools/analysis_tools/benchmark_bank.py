"""Benchmark of the DSB feature bank: incremental statistics against
recomputing every class from the whole pool.

    python tools/analysis_tools/benchmark_bank.py \
        [--scales imagenet-lt inat2018 lvis-v1] [--iters N] \
        [--device cpu|cuda] [--threads T] [--train-step]

For each dataset scale the bank of a :class:`SemanticScaleWeighter` is
filled with one epoch of synthetic features (the stage-2/3 steady state: a
full pool whose labels follow the dataset's long-tailed class profile), then
every iteration one global batch enters and as many of the oldest samples
leave. It times, per iteration and averaged after a warm-up,

(a) the incremental path, ``weighter.observe`` in stage 3: bank update plus
    class weights from the cached per-class statistics;
(b) the naive path: the same FIFO update of a plain pool, then
    ``dsb_weights(semantic_scales(pool))``, which recomputes every class;
(c) a per-class loop ``feature_volume(pool[labels == c])`` plus the class
    centres and their distances (extrapolated from a subset of classes when
    the number of classes is large, as the output says).

(a) and (b) process the same batches, each path in blocks of its own. The
script checks that they give the same weights and prints the bank's
memory. ``--train-step`` also measures the training throughput of a
ResNeXt-50 classifier with a plain and with a DSB linear head.

Class profiles: the requested exponential profile
``n_i = max * (min / max) ** (i / (C - 1))`` sums to about twice (ImageNet-LT)
or three times (iNaturalist 2018) the real dataset size, because the real
profiles fall faster. Scaling every count down would also scale down the
head class, so instead the exponent is warped to ``(i / (C - 1)) ** gamma``,
with ``gamma`` found by bisection so that the real-valued counts add up to
the dataset size (``gamma = 1`` is the plain exponential). The counts are
then floored and the missing samples are handed out one each to the classes
with the largest fractional parts (largest-remainder rounding). The result
sums exactly to the dataset size, is non-increasing and keeps the head and
tail counts (1280 and 5, or 1000 and 2).

LVIS v1 (detection): the bank holds one entry per ground-truth instance, so
one epoch is the 1,270,141 instances of LVIS v1 train over its 1203 classes
(the pool without repeat-factor sampling, which would enlarge it by the
repeats of images with rare classes). The global batch is the instances of
16 images (8 GPUs x 2, mmdet's LVIS schedules) at LVIS's mean of 12.68
instances per image, 203. The profile runs from an assumed head of 50,000
instances (the order of LVIS's largest classes) down to 1 (LVIS has classes
with a single training instance). Its features are those of the DSB box
head, 1024 channels pooled to 64.
"""
import argparse
import math
import statistics
import time
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger
from torch import Tensor

import mmdsb  # noqa: F401  (registers the DSB heads)
from mmdsb.engine.weighter import SemanticScaleWeighter
from mmdsb.semantic_scale import (centre_distance_sums, dsb_weights,
                                  feature_volume, scales_from_volumes,
                                  semantic_scales)

SCALES: Dict[str, dict] = {
    'imagenet-lt':
    dict(
        name='ImageNet-LT',
        num_classes=1000,
        pool=115846,
        batch=256,
        max_count=1280,
        min_count=5),
    'inat2018':
    dict(
        name='iNaturalist 2018',
        num_classes=8142,
        pool=437513,
        batch=512,
        max_count=1000,
        min_count=2),
    'lvis-v1':
    dict(
        name='LVIS v1 (det)',
        num_classes=1203,
        pool=1270141,
        batch=203,
        max_count=50000,
        min_count=1,
        feat_dim=1024),
}

SPEED_TARGET = 20.0  # naive / incremental
THROUGHPUT_TARGET = 0.98  # DSB / plain images per second (GPU)
REL_DIFF_LIMIT = 1e-9


# --------------------------------------------------------------- data
def class_counts(num_classes: int, total: int, max_count: int,
                 min_count: int) -> Tuple[Tensor, float]:
    """Long-tailed class sizes from ``max_count`` down to ``min_count`` that
    sum to exactly ``total`` (see the module docstring); also returns the
    exponent warp ``gamma``."""
    if num_classes < 2:
        raise ValueError('the profile needs at least 2 classes')
    if not (max_count + (num_classes - 1) * min_count < total <
            (num_classes - 1) * max_count + min_count):
        raise ValueError(f'{total} samples cannot follow a {max_count} to '
                         f'{min_count} profile over {num_classes} classes')
    t = torch.arange(num_classes, dtype=torch.float64) / (num_classes - 1)
    ratio = min_count / max_count

    def real_counts(gamma: float) -> Tensor:
        n = max_count * ratio**(t**gamma)
        # Pin the ends: floating point may put the tail just below min.
        n = n.clamp(min_count, max_count)
        n[0], n[-1] = max_count, min_count
        return n

    # The total grows with gamma (a larger gamma keeps the counts high for
    # longer); widen the upper bracket until it holds the target.
    lo, hi = 0.0, 1.0
    while float(real_counts(hi).sum()) < total:
        lo, hi = hi, 2 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if float(real_counts(mid).sum()) < total:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    gamma = 0.5 * (lo + hi)
    real = real_counts(gamma)
    counts = real.floor()
    missing = total - int(counts.sum())
    if not 0 <= missing < num_classes:
        raise RuntimeError(f'rounding left {missing} samples to hand out')
    if missing:
        frac = real - counts
        order = torch.argsort(frac, descending=True, stable=True)
        counts[order[:missing]] += 1
    counts = counts.long()
    assert int(counts.sum()) == total
    assert int(counts[0]) == max_count and int(counts[-1]) == min_count
    assert bool((counts[:-1] >= counts[1:]).all())
    return counts, gamma


class SyntheticStream:
    """Labels of consecutive training epochs (each a shuffled copy of the
    dataset's label list) with class-dependent Gaussian features.

    Every class has its own centre and per-dimension spread, so that the
    classes have different, non-trivial volumes and distinct centres.
    """

    def __init__(self, counts: Tensor, dim: int, seed: int = 0):
        self.gen = torch.Generator().manual_seed(seed)
        num_classes = counts.numel()
        self.dataset_labels = torch.repeat_interleave(
            torch.arange(num_classes), counts)
        self.centres = 2.0 * torch.randn(
            num_classes, dim, generator=self.gen)
        base = torch.exp(
            torch.empty(num_classes, 1).uniform_(
                math.log(0.5), math.log(2.0), generator=self.gen))
        self.spreads = base * torch.exp(
            0.25 * torch.randn(num_classes, dim, generator=self.gen))
        self._epoch = torch.empty(0, dtype=torch.long)
        self._pos = 0

    def features(self, labels: Tensor) -> Tensor:
        noise = torch.randn(
            labels.numel(), self.centres.shape[1], generator=self.gen)
        return self.centres[labels] + self.spreads[labels] * noise

    def next_labels(self, n: int) -> Tensor:
        parts = []
        while n > 0:
            if self._pos == self._epoch.numel():
                perm = torch.randperm(
                    self.dataset_labels.numel(), generator=self.gen)
                self._epoch, self._pos = self.dataset_labels[perm], 0
            take = min(n, self._epoch.numel() - self._pos)
            parts.append(self._epoch[self._pos:self._pos + take])
            self._pos += take
            n -= take
        return torch.cat(parts)

    def next(self, n: int) -> Tuple[Tensor, Tensor]:
        labels = self.next_labels(n)
        return self.features(labels), labels


# --------------------------------------------------------------- timing
def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fn: Callable, device: torch.device):
    """Run ``fn`` once; return its result and the wall time in ms. Kernels
    queued before are finished first so that they are not counted."""
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, (time.perf_counter() - start) * 1e3


def rel_diff(a: Tensor, b: Tensor) -> float:
    """Largest ``|a - b| / |b|`` over the entries; where ``b`` is 0, ``a``
    must be 0 too (else inf)."""
    a, b = a.double().cpu(), b.double().cpu()
    nz = b != 0
    if bool((a[~nz] != 0).any()):
        return math.inf
    if not bool(nz.any()):
        return 0.0
    return float(((a[nz] - b[nz]).abs() / b[nz].abs()).max())


def scaled_diff(a: Tensor, b: Tensor) -> float:
    """``max |a - b| / max |b|``: for vectors whose entries may be near 0
    (centre coordinates), where an entry-wise ratio means nothing."""
    a, b = a.double().cpu(), b.double().cpu()
    scale = float(b.abs().max()) if b.numel() else 0.0
    return float((a - b).abs().max()) / scale if scale > 0 else 0.0


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else math.nan


# --------------------------------------------------------------- naive
class NaivePool:
    """The same FIFO pool without statistics: every query recomputes the
    classes from the stored features."""

    def __init__(self, feats: Tensor, labels: Tensor, num_classes: int,
                 alpha: float, eps: float, normalize: str):
        self.feats, self.labels = feats.clone(), labels.clone()
        self.num_classes, self.alpha, self.eps = num_classes, alpha, eps
        self.normalize = normalize
        self.head = 0  # oldest sample; the pool is always full

    def enqueue(self, feats: Tensor, labels: Tensor) -> None:
        """Overwrite the oldest samples (dequeue and enqueue at once)."""
        cap = self.labels.numel()
        pos = (self.head + torch.arange(labels.numel(),
                                        device=labels.device)) % cap
        self.feats[pos] = feats.float()
        self.labels[pos] = labels
        self.head = (self.head + labels.numel()) % cap

    def step(self, feats: Tensor, labels: Tensor) -> Tensor:
        self.enqueue(feats, labels)
        scales = semantic_scales(self.feats, self.labels, self.num_classes,
                                 self.alpha, True, self.eps)
        return dsb_weights(scales, self.normalize)

    def loop_stats(self, classes: Sequence[int]):
        """Volume and centre of each class in ``classes``, one boolean mask
        over the whole pool per class."""
        vols = torch.zeros(self.num_classes, dtype=torch.float64,
                           device=self.feats.device)
        centres = torch.zeros(self.num_classes, self.feats.shape[1],
                              dtype=torch.float64, device=self.feats.device)
        present = torch.zeros(self.num_classes, dtype=torch.bool,
                              device=self.feats.device)
        for c in classes:
            xc = self.feats[self.labels == c]
            vols[c] = feature_volume(xc, self.eps)
            if xc.shape[0]:
                centres[c] = xc.double().mean(dim=0)
                present[c] = True
        return vols, centres, present

    def weights_from(self, vols: Tensor, centres: Tensor,
                     present: Tensor) -> Tensor:
        dist = centre_distance_sums(centres, present)
        scales = scales_from_volumes(vols, dist, present, self.alpha, True)
        return dsb_weights(scales, self.normalize)


# --------------------------------------------------------------- bank
def benchmark_scale(spec: dict,
                    iters: int,
                    device: torch.device,
                    warmup: int = 2,
                    loop_iters: int = 2,
                    loop_classes: int = 1000,
                    dim: int = 64,
                    pool_dim: Optional[int] = None,
                    seed: int = 0,
                    verbose: bool = True) -> dict:
    """Time the incremental and the naive paths at one dataset scale.

    ``pool_dim`` (default: the scale's ``feat_dim``, else 2048) is the width
    of the features that the weighter pools to ``dim``.
    """
    pool_dim = pool_dim or spec.get('feat_dim', 2048)
    C, total, batch = spec['num_classes'], spec['pool'], spec['batch']
    counts, gamma = class_counts(C, total, spec['max_count'],
                                 spec['min_count'])
    stream = SyntheticStream(counts, dim, seed)

    def log(msg: str) -> None:
        if verbose:
            print(f'  [{spec["name"]}] {msg}', flush=True)

    # One epoch of samples fills the pool, oldest first.
    pool_feats, pool_labels = stream.next(total)
    weighter = SemanticScaleWeighter(bank_dim=dim)
    weighter.init_bank(total, C, device)
    _, fill_ms = timed(
        partial(weighter.bank.load_state_dict,
                dict(feats=pool_feats, labels=pool_labels, capacity=total,
                     dim=dim, num_classes=C)), device)
    weighter.stage = 3
    bank = weighter.bank
    naive = NaivePool(
        pool_feats.to(device), pool_labels.to(device), C, weighter.alpha,
        weighter.eps, weighter.normalize)
    del pool_feats, pool_labels
    log(f'pool filled ({fill_ms / 1e3:.1f} s for the exact statistics)')

    def next_batch() -> Tuple[Tensor, Tensor]:
        x, y = stream.next(batch)
        return x.to(device), y.to(device)

    res = dict(
        spec=spec,
        counts=counts,
        gamma=gamma,
        device=device,
        threads=torch.get_num_threads(),
        t_inc=[],
        t_naive=[],
        cpu_inc=[],
        cpu_naive=[],
        changed=[],
        max_rel_diff=0.0)

    # (a) and (b) see the same batches. Each runs in blocks of its own, so
    # that one path does not time the other's cold caches and freed memory;
    # two rounds of blocks spread a change of machine load over both.
    batches = [next_batch() for _ in range(warmup + iters)]
    half = warmup + iters // 2
    weights_inc: List[Tensor] = []
    for block in (range(half), range(half, warmup + iters)):
        for it in block:
            x, y = batches[it]
            # Process CPU time too: on a shared machine it leaves out the
            # time spent waiting for a core (exactly so with one thread).
            c0 = time.process_time()
            w_inc, t_a = timed(lambda: weighter.observe(x, y), device)
            weights_inc.append(w_inc)
            if it >= warmup:
                res['t_inc'].append(t_a)
                res['cpu_inc'].append((time.process_time() - c0) * 1e3)
        for it in block:
            x, y = batches[it]
            # Classes whose statistics change: those entering and leaving.
            leaving = naive.labels[(naive.head + torch.arange(
                batch, device=device)) % total]
            changed = int(torch.unique(torch.cat([y, leaving])).numel())
            c0 = time.process_time()
            w_naive, t_b = timed(lambda: naive.step(x, y), device)
            if it >= warmup:
                res['t_naive'].append(t_b)
                res['cpu_naive'].append((time.process_time() - c0) * 1e3)
                res['changed'].append(changed)
            res['max_rel_diff'] = max(res['max_rel_diff'],
                                      rel_diff(weights_inc[it], w_naive))
    del batches, weights_inc
    log(f'(a)/(b): {iters} iterations after {warmup} warm-up')

    # Where the incremental time goes: the steps of `observe`, one by one.
    parts: Dict[str, List[float]] = {
        'push': [],
        'volumes': [],
        'distance_sums': [],
        'scales+weights': []
    }
    for it in range(max(1, iters // 2)):
        x, y = next_batch()
        for name, fn in (('push', lambda: bank.push(x, y, evict=batch)),
                         ('volumes', bank.volumes),
                         ('distance_sums', bank.distance_sums),
                         ('scales+weights', weighter.class_weights)):
            parts[name].append(timed(fn, device)[1])
        naive.enqueue(x, y)
    res['parts'] = {k: mean(v) for k, v in parts.items()}

    # Pooling of 2048-d pre-logits to the bank's dimension (not in (a)).
    wide = torch.randn(batch, pool_dim, device=device)
    weighter.reduce(wide)
    res['pool_dim'] = pool_dim
    res['t_pool'] = mean(
        [timed(lambda: weighter.reduce(wide), device)[1] for _ in range(20)])

    # (c) the per-class loop over the whole pool.
    if loop_classes >= C:
        classes = list(range(C))
    else:
        # Evenly spaced over the profile (classes are sorted by size), so
        # that head and tail classes are both represented.
        classes = torch.linspace(0, C - 1, loop_classes).round().long()
        classes = sorted(set(classes.tolist()))
    full = len(classes) == C
    t_loop, t_tail, loop_diff = [], [], 0.0
    for _ in range(loop_iters):
        x, y = next_batch()
        w_inc = weighter.observe(x, y)
        (vols, centres, present), t_l = timed(
            lambda: (naive.enqueue(x, y), naive.loop_stats(classes))[1],
            device)
        if full:
            w_loop, t_t = timed(
                lambda: naive.weights_from(vols, centres, present), device)
            loop_diff = max(loop_diff, rel_diff(w_loop, w_inc))
        else:
            idx = torch.tensor(classes, device=device)
            loop_diff = max(loop_diff,
                            rel_diff(vols[idx], bank.volumes()[idx]),
                            scaled_diff(centres[idx], bank.centres()[idx]))
            # The remaining classes from the bank: the cost of the
            # distances and weights does not depend on the values.
            rest = torch.ones(C, dtype=torch.bool, device=device)
            rest[idx] = False
            vols[rest] = bank.volumes()[rest]
            centres[rest] = bank.centres()[rest]
            present[rest] = bank.present()[rest]
            _, t_t = timed(
                lambda: naive.weights_from(vols, centres, present), device)
        t_loop.append(t_l)
        t_tail.append(t_t)
    res['loop_classes'] = len(classes)
    res['loop_iters'] = loop_iters
    res['t_loop'] = (mean(t_loop) * C / len(classes) +
                     mean(t_tail)) if loop_iters else math.nan
    res['loop_diff'] = loop_diff
    res['loop_full'] = full
    log(f'(c): {loop_iters} iterations over {len(classes)} classes')

    res['same_pool'] = bool(
        torch.equal(bank.feats, naive.feats)
        and torch.equal(bank.labels, naive.labels))
    res['bank_mib'] = bank.nbytes() / 2**20
    res['feats_mib'] = total * dim * 4 / 2**20
    res['scatter_mib'] = bank.scatters.numel() * 8 / 2**20
    res['below_two'] = int((bank.counts < 2).sum())
    return res


def print_scale(res: dict) -> None:
    spec, counts = res['spec'], res['counts']
    C, batch = spec['num_classes'], spec['batch']
    t_a, t_b = mean(res['t_inc']), mean(res['t_naive'])
    ratio = t_b / t_a
    on_cpu = res['device'].type == 'cpu'
    rows = [
        ('(a) incremental: observe() = bank update + weights', res['t_inc'],
         res['cpu_inc']),
        ('(b) naive: enqueue + dsb_weights(semantic_scales(pool))',
         res['t_naive'], res['cpu_naive']),
    ]
    width = 97 if on_cpu else 86
    print()
    print(f'=== {spec["name"]}: C={C:,}, pool={spec["pool"]:,}, d=64, '
          f'global batch={batch}, device={res["device"]}, '
          f'threads={res["threads"]} ===')
    print(f'class counts {int(counts[0])} .. {int(counts[-1])}, sum '
          f'{int(counts.sum()):,} (exponent warp gamma={res["gamma"]:.4f}); '
          f'classes touched per iteration (in + out): '
          f'{mean(res["changed"]):.0f} of {C:,}')
    print(f'{"path":<58}{"mean ms":>10}{"median ms":>11}{"iters":>7}' +
          (f'{"CPU ms":>11}' if on_cpu else ''))
    print('-' * width)
    for name, wall, cpu in rows:
        print(f'{name:<58}{mean(wall):>10.2f}{median(wall):>11.2f}'
              f'{len(wall):>7}' + (f'{mean(cpu):>11.2f}' if on_cpu else ''))
    for name, value in res['parts'].items():
        print(f'{"    of (a), measured apart: " + name:<58}{value:>10.2f}')
    pooling = f'    pooling {res["pool_dim"]} -> 64 channels (not in (a))'
    print(f'{pooling:<58}'
          f'{res["t_pool"]:>10.3f}')
    if res['loop_iters']:
        name = '(c) per-class loop: feature_volume(pool[labels == c])'
        print(f'{name:<58}{res["t_loop"]:>10.2f}{"":>11}'
              f'{res["loop_iters"]:>7}')
        how = ('all classes' if res['loop_full'] else
               f'EXTRAPOLATED from {res["loop_classes"]} of {C:,} classes')
        print(f'    + centres and their distances; {how}')
    print('-' * width)
    met = 'MET' if ratio >= SPEED_TARGET else 'NOT MET'
    by_median = median(res['t_naive']) / median(res['t_inc'])
    print(f'speed-up (b)/(a): {ratio:.1f}x of the means, {by_median:.1f}x of '
          f'the medians  (target >= {SPEED_TARGET:.0f}x: {met})' +
          (f';  (c)/(a): {res["t_loop"] / t_a:.1f}x'
           if res['loop_iters'] else ''))
    if on_cpu:
        by_cpu = mean(res['cpu_naive']) / mean(res['cpu_inc'])
        print(f'speed-up (b)/(a) in process CPU time: {by_cpu:.1f}x (less '
              'sensitive to other processes on the machine, exactly so with '
              '--threads 1)')
    ok = res['max_rel_diff'] < REL_DIFF_LIMIT
    print(f'max relative difference of the weights, (a) vs (b), over all '
          f'{len(res["t_inc"])}+warm-up iterations: '
          f'{res["max_rel_diff"]:.2e} ({"OK" if ok else "TOO LARGE"}, '
          f'limit {REL_DIFF_LIMIT:.0e})')
    if res['loop_iters']:
        what = ('weights' if res['loop_full'] else
                f'volumes and centres of the {res["loop_classes"]} classes')
        print(f'max relative difference of the {what}, (c) vs (a): '
              f'{res["loop_diff"]:.2e}')
    print(f'pool contents of (a) and (b) identical: '
          f'{"yes" if res["same_pool"] else "NO"}; classes with < 2 samples '
          f'in the pool (volume 0, fallback weight): {res["below_two"]}')
    print(f'memory: bank.nbytes() = {res["bank_mib"]:.1f} MiB, of which '
          f'float32 features {res["feats_mib"]:.1f} MiB and float64 scatter '
          f'matrices {res["scatter_mib"]:.1f} MiB')


def print_summary(results: List[dict]) -> None:
    print()
    print('=== summary (ms per iteration, means) ===')
    head = (f'{"scale":<18}{"C":>6}{"pool":>9}{"batch":>6}{"(a) inc":>9}'
            f'{"(b) naive":>10}{"(c) loop":>10}{"(b)/(a)":>8}{">=20x":>7}'
            f'{"by CPU":>8}'
            f'{"bank MiB":>9}{"feat MiB":>9}{"rel diff":>10}')
    print(head)
    print('-' * len(head))
    for r in results:
        s = r['spec']
        t_a, t_b = mean(r['t_inc']), mean(r['t_naive'])
        loop = f'{r["t_loop"]:.0f}' + ('' if r['loop_full'] else '*')
        met = 'yes' if t_b / t_a >= SPEED_TARGET else 'no'
        cpu_ratio = (f'{mean(r["cpu_naive"]) / mean(r["cpu_inc"]):.1f}x'
                     if r['device'].type == 'cpu' else '-')
        print(f'{s["name"]:<18}{s["num_classes"]:>6}{s["pool"]:>9}'
              f'{s["batch"]:>6}{t_a:>9.1f}{t_b:>10.1f}{loop:>10}'
              f'{t_b / t_a:>7.1f}x{met:>7}{cpu_ratio:>8}'
              f'{r["bank_mib"]:>9.1f}{r["feats_mib"]:>9.1f}'
              f'{r["max_rel_diff"]:>10.1e}')
    if any(not r['loop_full'] for r in results):
        print('* extrapolated from a subset of the classes')
    print('by CPU: (b)/(a) in process CPU time instead of wall time')


# --------------------------------------------------------------- training
def build_classifier(head_type: str, num_classes: int) -> torch.nn.Module:
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='ResNeXt',
                depth=50,
                groups=32,
                width_per_group=4,
                num_stages=4,
                out_indices=(3, ),
                style='pytorch'),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type=head_type,
                num_classes=num_classes,
                in_channels=2048,
                loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
                topk=(1, 5))))


def benchmark_train_step(spec: dict,
                         device: torch.device,
                         batch: int = 64,
                         img_size: int = 224,
                         iters: int = 20,
                         warmup: int = 5,
                         rounds: int = 2,
                         seed: int = 0,
                         verbose: bool = True) -> dict:
    """Images per second of SGD steps with a plain and a DSB head on
    synthetic images; the DSB bank is full and re-weighting (stage 3)."""
    from mmpretrain.structures import DataSample
    C, total = spec['num_classes'], spec['pool']
    counts, _ = class_counts(C, total, spec['max_count'], spec['min_count'])
    stream = SyntheticStream(counts, 64, seed)
    torch.manual_seed(seed)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True

    models, optims = {}, {}
    for kind, head in (('plain', 'LinearClsHead'),
                       ('DSB', 'DSBLinearClsHead')):
        model = build_classifier(head, C).to(device).train()
        models[kind] = model
        optims[kind] = torch.optim.SGD(
            model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    weighter = SemanticScaleWeighter()
    weighter.init_bank(total, C, device)
    feats, labels = stream.next(total)
    weighter.bank.load_state_dict(
        dict(feats=feats, labels=labels, capacity=total, dim=64,
             num_classes=C))
    weighter.stage = 3
    models['DSB'].head.dsb_weighter = weighter

    # A few fixed batches, cycled: data loading is not what is measured.
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(4):
        y = stream.next_labels(batch)
        images = torch.randn(batch, 3, img_size, img_size, generator=gen)
        samples = [DataSample().set_gt_label(int(v)) for v in y]
        batches.append((images.to(device), samples))

    def step(kind: str, i: int) -> None:
        images, samples = batches[i % len(batches)]
        losses = models[kind].loss(images, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optims[kind].zero_grad(set_to_none=True)
        loss.backward()
        optims[kind].step()

    seconds = {'plain': 0.0, 'DSB': 0.0}
    for kind in seconds:
        for i in range(warmup):
            step(kind, i)
    # Alternating blocks, so that a change of load hits both heads.
    for r in range(rounds):
        for kind in seconds:
            _, ms = timed(lambda: [step(kind, i) for i in range(iters)],
                          device)
            seconds[kind] += ms / 1e3
            if verbose:
                print(f'  [train step] round {r + 1}/{rounds} {kind}: '
                      f'{batch * iters / (ms / 1e3):.1f} img/s', flush=True)
    n_img = batch * iters * rounds
    return dict(
        spec=spec,
        device=device,
        batch=batch,
        img_size=img_size,
        iters=iters * rounds,
        warmup=warmup,
        ips={k: n_img / s
             for k, s in seconds.items()},
        ms={k: s * 1e3 / (iters * rounds)
            for k, s in seconds.items()})


def print_train(res: dict) -> None:
    spec = res['spec']
    print()
    print(f'=== training step: ResNeXt-50 (32x4d) + GAP + linear head, '
          f'batch {res["batch"]}, {res["img_size"]}x{res["img_size"]} '
          f'synthetic images, {spec["num_classes"]} classes '
          f'({spec["name"]} bank of {spec["pool"]:,}), SGD, '
          f'device={res["device"]} ===')
    print(f'{"head":<46}{"img/s":>10}{"ms/iter":>10}{"iters":>7}')
    print('-' * 73)
    names = dict(
        plain='plain: LinearClsHead (CE)',
        DSB='DSB: DSBLinearClsHead (weighted CE, stage 3)')
    for kind, name in names.items():
        print(f'{name:<46}{res["ips"][kind]:>10.1f}{res["ms"][kind]:>10.1f}'
              f'{res["iters"]:>7}')
    print('-' * 73)
    ratio = res['ips']['DSB'] / res['ips']['plain']
    met = 'MET' if ratio >= THROUGHPUT_TARGET else 'NOT MET'
    where = ('' if res['device'].type == 'cuda' else
             ' -- the target is for a GPU; this CPU run only checks that the '
             'step works')
    print(f'throughput DSB / plain: {ratio:.3f} (target >= '
          f'{THROUGHPUT_TARGET}: {met}){where}')


# --------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time the DSB feature bank: incremental statistics '
        'against recomputation from the whole pool')
    parser.add_argument(
        '--scales',
        nargs='*',
        choices=sorted(SCALES),
        default=['imagenet-lt', 'inat2018', 'lvis-v1'],
        help='dataset scales to benchmark (none: only --train-step)')
    parser.add_argument(
        '--iters', type=int, default=10,
        help='timed iterations of (a) and (b) per scale')
    parser.add_argument(
        '--warmup', type=int, default=2,
        help='untimed iterations first (the first one computes every '
        'class)')
    parser.add_argument(
        '--loop-iters', type=int, default=2,
        help='timed iterations of the per-class loop (c); 0 skips it')
    parser.add_argument(
        '--loop-classes', type=int, default=1000,
        help='classes timed per iteration of (c); with more classes the '
        'time is extrapolated from an evenly spaced subset')
    parser.add_argument(
        '--device', choices=['auto', 'cpu', 'cuda'], default='auto',
        help='auto: cuda when available')
    parser.add_argument(
        '--threads', type=int, help='torch CPU threads (default: torch)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--train-step', action='store_true',
        help='also time SGD steps of ResNeXt-50 with a plain and a DSB head')
    parser.add_argument(
        '--train-scale', choices=sorted(SCALES), default='imagenet-lt',
        help='classes and bank size of the training-step benchmark')
    parser.add_argument('--train-batch', type=int, default=64)
    parser.add_argument(
        '--train-iters', type=int,
        help='timed steps per head and round (default 20 on GPU, 2 on CPU)')
    parser.add_argument(
        '--train-warmup', type=int,
        help='untimed steps per head (default 5 on GPU, 1 on CPU)')
    parser.add_argument(
        '--train-rounds', type=int, default=2,
        help='alternating rounds of plain and DSB timing')
    parser.add_argument(
        '--img-size', type=int,
        help='image side for --train-step (default 224 on GPU, 64 on CPU)')
    args = parser.parse_args(argv)
    if not args.scales and not args.train_step:
        parser.error('nothing to do: give --scales or --train-step')
    for name in ('iters', 'train_batch', 'train_rounds'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    return args


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'auto':
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is available')
    device = torch.device(args.device)
    # The weighter logs a warning when a tail class drops below 2 samples;
    # the table reports that count instead.
    MMLogger.get_instance('benchmark_bank', log_level='ERROR')

    results = []
    for key in args.scales:
        res = benchmark_scale(
            SCALES[key],
            args.iters,
            device,
            warmup=args.warmup,
            loop_iters=args.loop_iters,
            loop_classes=args.loop_classes,
            seed=args.seed)
        print_scale(res)
        results.append(res)
    if len(results) > 1:
        print_summary(results)

    if args.train_step:
        gpu = device.type == 'cuda'
        res = benchmark_train_step(
            SCALES[args.train_scale],
            device,
            batch=args.train_batch,
            img_size=args.img_size or (224 if gpu else 64),
            iters=args.train_iters or (20 if gpu else 2),
            warmup=(args.train_warmup if args.train_warmup is not None else
                    (5 if gpu else 1)),
            rounds=args.train_rounds,
            seed=args.seed)
        print_train(res)
        results.append(res)
    return results


if __name__ == '__main__':
    main()
