"""Benchmark of the DSB feature bank: the incremental step of
``SemanticScaleWeighter.observe`` against full recomputation.

    python tools/analysis_tools/benchmark_bank.py [--scales ...] \
        [--iters N] [--threads T] [--device cpu|cuda] [--train-step]

Per dataset scale the bank holds one epoch of synthetic features whose labels
follow the dataset's long-tailed profile (the stage-3 steady state); each
iteration one global batch enters and as many of the oldest samples leave.
On the same batches it times (a) ``observe()`` and (b) the same FIFO update
of a plain pool followed by ``dsb_weights(semantic_scales(pool))``, and
prints one table per scale: median times, the parts of (a), the ratio of the
medians against the target and the largest relative difference of the
weights. Profiles run from the head to the tail count, the exponent warped
so that they sum exactly to the dataset size; LVIS v1 holds its 1,270,141
training instances, 203 (16 images) per batch. ``--train-step`` times SGD
steps of ResNeXt-50 (32x4d), batch 64, synthetic images, plain vs DSB head,
with the bank at ImageNet-LT and iNaturalist 2018 scale.
"""
import argparse
import statistics
import time
from typing import Dict, List, Tuple

import torch
from mmengine.logging import MMLogger
from torch import Tensor

import mmdsb  # noqa: F401  (registers the DSB heads)
from mmdsb.engine.channel_pooling import pool_channels
from mmdsb.engine.weighter import SemanticScaleWeighter
from mmdsb.semantic_scale import dsb_weights, semantic_scales

SCALES: Dict[str, dict] = {
    'imagenet-lt': dict(name='ImageNet-LT', num_classes=1000, pool=115846,
                        batch=256, max_count=1280, min_count=5),
    'inat2018': dict(name='iNaturalist 2018', num_classes=8142,
                     pool=437513, batch=512, max_count=1000, min_count=2),
    'lvis-v1': dict(name='LVIS v1 (det)', num_classes=1203, pool=1270141,
                    batch=round(16 * 1270141 / 100170), max_count=50000,
                    min_count=1, feat_dim=1024),
}
SPEED_TARGET = 25.0  # recompute / incremental, medians
# The step (a) of mmdsb 1.x (one weighter class holding bank, measure and
# weighting): medians of three runs, 2 threads, on a 2-core machine, taken
# alternately with today's. The step must not be slower.
STEP_MS_BEFORE = {'ImageNet-LT': 7.2, 'iNaturalist 2018': 35.9,
                  'LVIS v1 (det)': 5.0}
THROUGHPUT_TARGET = 0.99  # DSB / plain images per second, on a GPU
# The distances are float32 (see mmdsb.feature_bank): weights within 1e-6.
REL_DIFF_LIMIT = 1e-6


def class_counts(num_classes: int, total: int, max_count: int,
                 min_count: int) -> Tuple[Tensor, float]:
    """Non-increasing class sizes from ``max_count`` to ``min_count`` that
    sum to ``total`` (largest-remainder rounding); also the warp gamma."""
    if num_classes < 2 or not (max_count + (num_classes - 1) * min_count <
                               total < (num_classes - 1) * max_count +
                               min_count):
        raise ValueError(f'{total} samples cannot follow a {max_count} to '
                         f'{min_count} profile over {num_classes} classes')
    t = torch.arange(num_classes, dtype=torch.float64) / (num_classes - 1)

    def real(gamma: float) -> Tensor:
        n = (max_count * (min_count / max_count)**(t**gamma)).clamp(
            min_count, max_count)
        n[0], n[-1] = max_count, min_count
        return n

    lo, hi = 0.0, 1.0  # the total grows with gamma
    while float(real(hi).sum()) < total:
        lo, hi = hi, 2 * hi
    while hi - lo > 1e-15:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if float(real(mid).sum()) < total else (lo, mid)
    gamma = 0.5 * (lo + hi)
    counts = real(gamma).floor()
    missing = total - int(counts.sum())
    frac = real(gamma) - counts
    counts[torch.argsort(frac, descending=True, stable=True)[:missing]] += 1
    return counts.long(), gamma


class SyntheticStream:
    """Shuffled epochs of the dataset's labels with class-dependent Gaussian
    features (own centre and per-dimension spread per class)."""

    def __init__(self, counts: Tensor, dim: int, seed: int = 0):
        self.gen = torch.Generator().manual_seed(seed)
        C = counts.numel()
        self.labels = torch.repeat_interleave(torch.arange(C), counts)
        self.centres = 2.0 * torch.randn(C, dim, generator=self.gen)
        self.spreads = torch.exp(
            torch.empty(C, 1).uniform_(-0.7, 0.7, generator=self.gen) +
            0.25 * torch.randn(C, dim, generator=self.gen))
        self.epoch, self.pos = torch.empty(0, dtype=torch.long), 0

    def next_labels(self, n: int) -> Tensor:
        parts = []
        while n > 0:
            if self.pos == self.epoch.numel():
                perm = torch.randperm(self.labels.numel(), generator=self.gen)
                self.epoch, self.pos = self.labels[perm], 0
            take = min(n, self.epoch.numel() - self.pos)
            parts.append(self.epoch[self.pos:self.pos + take])
            self.pos, n = self.pos + take, n - take
        return torch.cat(parts)

    def next(self, n: int) -> Tuple[Tensor, Tensor]:
        y = self.next_labels(n)
        noise = torch.randn(n, self.centres.shape[1], generator=self.gen)
        return self.centres[y] + self.spreads[y] * noise, y


def timed(fn, device: torch.device):
    """``fn()`` and its wall time in ms, queued device work included."""
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: 0)
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return out, (time.perf_counter() - start) * 1e3


def full_bank(spec: dict, device: torch.device, seed: int = 0):
    """A stage-3 weighter whose bank holds one epoch, and the stream."""
    C, total = spec['num_classes'], spec['pool']
    counts, gamma = class_counts(C, total, spec['max_count'],
                                 spec['min_count'])
    stream = SyntheticStream(counts, 64, seed)
    feats, labels = stream.next(total)
    weighter = SemanticScaleWeighter(bank_dim=64)
    weighter.init_bank(total, C, device)
    weighter.bank.load_state_dict(
        dict(feats=feats, labels=labels, capacity=total, dim=64,
             num_classes=C))
    weighter.stage = 3
    return weighter, stream, counts, gamma


def benchmark_scale(spec: dict, iters: int, device: torch.device,
                    warmup: int = 2, seed: int = 0) -> dict:
    """Median times of (a) and (b) and the largest weight difference."""
    weighter, stream, counts, gamma = full_bank(spec, device, seed)
    bank, C = weighter.bank, spec['num_classes']
    pool_feats, pool_labels = [t.clone() for t in bank.ordered()]
    wide = spec.get('feat_dim', 2048)
    batches = []
    for _ in range(warmup + iters):
        x, y = stream.next(spec['batch'])
        # Pre-logits wider than the bank; observe() pools them to 64, and
        # (b) gets the same pooled rows.
        x = x.repeat_interleave(wide // 64, 1).to(device)
        batches.append((x, pool_channels(x, 64), y.to(device)))
    # (a) all iterations first, then (b): neither times the other's caches.
    t_inc, weights = [], []
    for i, (wide_x, _, y) in enumerate(batches):
        w, ms = timed(lambda: weighter.observe(wide_x, y), device)
        weights.append(w)
        t_inc += [ms] * (i >= warmup)
    t_rec, worst, head = [], 0.0, 0

    def recompute(x: Tensor, y: Tensor) -> Tensor:
        pos = (head + torch.arange(y.numel(), device=device)) % spec['pool']
        pool_feats[pos], pool_labels[pos] = x, y
        return dsb_weights(semantic_scales(pool_feats, pool_labels, C),
                           max_ratio=weighter.max_weight_ratio)

    for i, (_, x, y) in enumerate(batches):
        w, ms = timed(lambda: recompute(x, y), device)
        head = (head + y.numel()) % spec['pool']
        t_rec += [ms] * (i >= warmup)
        worst = max(worst, float(((weights[i] - w).abs() / w).max()))
    # Where (a) goes: its steps one by one, on a few more batches.
    parts: Dict[str, List[float]] = {}
    for _ in range(max(3, iters // 2)):
        x, y = stream.next(spec['batch'])
        x, y = x.to(device), y.to(device)
        for name, fn in (('push', lambda: bank.push(x, y)),
                         ('volumes', bank.volumes),
                         ('distance sums', bank.distance_sums),
                         ('scales + weights', weighter.class_weights)):
            parts.setdefault(name, []).append(timed(fn, device)[1])
    return dict(
        spec=spec, device=device, threads=torch.get_num_threads(),
        counts=counts, gamma=gamma, t_inc=t_inc, t_rec=t_rec,
        parts={k: statistics.median(v) for k, v in parts.items()},
        max_rel_diff=worst, bank_mib=bank.nbytes() / 2**20,
        below_two=int((bank.counts < 2).sum()))


def print_scale(res: dict) -> None:
    s, counts = res['spec'], res['counts']
    a, b = statistics.median(res['t_inc']), statistics.median(res['t_rec'])
    ok = res['max_rel_diff'] <= REL_DIFF_LIMIT
    print(f'\n=== {s["name"]}: C={s["num_classes"]:,}, pool={s["pool"]:,}, '
          f'batch={s["batch"]}, d=64, device={res["device"]}, '
          f'threads={res["threads"]} ===')
    print(f'classes {int(counts[0])} .. {int(counts[-1])} samples '
          f'(gamma={res["gamma"]:.4f}); {res["below_two"]} below 2 samples')
    print(f'{"path":<52}{"median ms":>11}{"min ms":>9}{"iters":>7}')
    print('-' * 79)
    for name, ts in (('(a) incremental: observe(), stage 3', res['t_inc']),
                     ('(b) recompute: dsb_weights(semantic_scales(pool))',
                      res['t_rec'])):
        print(f'{name:<52}{statistics.median(ts):>11.2f}{min(ts):>9.2f}'
              f'{len(ts):>7}')
    for name, ms in res['parts'].items():
        print(f'{"    of (a): " + name:<52}{ms:>11.2f}')
    print('-' * 79)
    before = STEP_MS_BEFORE.get(s['name'])
    if before is not None:
        print(f'step (a): {a:.2f} ms; target: no slower than {before:.1f} ms, '
              "mmdsb 1.x's median on a 2-core machine "
              f'({a / before:.2f}x)')
    print(f'ratio (b)/(a): {b / a:.1f}x (target >= {SPEED_TARGET:.0f}x: '
          f'{"MET" if b / a >= SPEED_TARGET else "NOT MET"})')
    print(f'weights (a) vs (b), max relative difference: '
          f'{res["max_rel_diff"]:.1e} ({"OK" if ok else "TOO LARGE"}, '
          f'limit {REL_DIFF_LIMIT:.0e}); bank memory '
          f'{res["bank_mib"]:.1f} MiB')


def benchmark_train_step(spec: dict, device: torch.device, batch: int = 64,
                         img_size: int = 224, iters: int = 20,
                         warmup: int = 5) -> dict:
    """Images per second of SGD steps with a plain and a DSB head."""
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    weighter, stream, _, _ = full_bank(spec, device)
    torch.backends.cudnn.benchmark = device.type == 'cuda'
    ips = {}
    images = torch.randn(batch, 3, img_size, img_size, device=device)
    samples = [DataSample().set_gt_label(int(v))
               for v in stream.next_labels(batch)]
    for kind, head in (('plain', 'LinearClsHead'),
                       ('DSB', 'DSBLinearClsHead')):
        model = MODELS.build(dict(
            type='ImageClassifier',
            backbone=dict(type='ResNeXt', depth=50, groups=32,
                          width_per_group=4, out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type=head, num_classes=spec['num_classes'],
                      in_channels=2048,
                      loss=dict(type='CrossEntropyLoss')))).to(device)
        if kind == 'DSB':
            model.head.dsb_weighter = weighter
        optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def steps(n: int, model=model, optim=optim) -> None:
            for _ in range(n):
                loss = sum(v for k, v in model.loss(images, samples).items()
                           if 'loss' in k)
                optim.zero_grad(set_to_none=True)
                loss.backward()
                optim.step()

        steps(warmup)
        ips[kind] = batch * iters / (timed(lambda: steps(iters), device)[1] /
                                     1e3)
    return dict(spec=spec, device=device, batch=batch, img_size=img_size,
                iters=iters, ips=ips)


def print_train(res: dict) -> None:
    ips, ratio = res['ips'], res['ips']['DSB'] / res['ips']['plain']
    print(f'\n=== training step, ResNeXt-50 32x4d, batch {res["batch"]}, '
          f'{res["img_size"]}px synthetic images, {res["spec"]["name"]} '
          f'bank, device={res["device"]} ===\nplain {ips["plain"]:.1f} '
          f'img/s, DSB {ips["DSB"]:.1f} img/s, {res["iters"]} steps each')
    met = 'MET' if ratio >= THROUGHPUT_TARGET else 'NOT MET'
    if res['device'].type != 'cuda':
        met = 'a GPU target; on the CPU this only runs the step'
    print(f'throughput DSB / plain: {ratio:.3f} (target >= '
          f'{THROUGHPUT_TARGET}: {met})')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--scales', nargs='*', choices=sorted(SCALES),
                   default=['imagenet-lt', 'inat2018', 'lvis-v1'],
                   help='dataset scales of the bank benchmark (none: skip)')
    p.add_argument('--iters', type=int, default=10, help='timed iterations')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--threads', type=int, help='torch CPU threads')
    p.add_argument('--device', choices=['auto', 'cpu', 'cuda'],
                   default='auto')
    p.add_argument('--train-step', action='store_true',
                   help='also time ResNeXt-50 SGD steps, plain vs DSB head')
    p.add_argument('--train-scales', nargs='+', choices=sorted(SCALES),
                   default=['imagenet-lt', 'inat2018'])
    p.add_argument('--train-iters', type=int,
                   help='timed steps per head (default 20 on GPU, 2 on CPU)')
    p.add_argument('--img-size', type=int,
                   help='image side (default 224 on GPU, 64 on CPU)')
    args = p.parse_args(argv)
    if not args.scales and not args.train_step:
        p.error('nothing to do: give --scales or --train-step')
    if args.iters < 1:
        p.error('--iters must be >= 1')
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
    # The table counts the tail classes below 2 samples instead of warning.
    MMLogger.get_instance('benchmark_bank', log_level='ERROR')
    results = []
    for key in args.scales:
        results.append(
            benchmark_scale(SCALES[key], args.iters, device, args.warmup))
        print_scale(results[-1])
    gpu = device.type == 'cuda'
    for key in args.train_scales if args.train_step else []:
        results.append(benchmark_train_step(
            SCALES[key], device, warmup=5 if gpu else 1,
            img_size=args.img_size or (224 if gpu else 64),
            iters=args.train_iters or (20 if gpu else 2)))
        print_train(results[-1])
    return results


if __name__ == '__main__':
    main()
