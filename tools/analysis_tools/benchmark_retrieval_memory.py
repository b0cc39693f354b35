"""Peak memory of Recall@K: the blocked ``recall_at_k`` against the full
``N x N`` similarity matrix and stable argsort it replaced.

    python tools/analysis_tools/benchmark_retrieval_memory.py --n 24000 \
        [--dim 64] [--classes 100] [--baseline-n 8000]

Each measurement runs in a fresh process on random embeddings: the growth
of its peak resident memory over its resident memory before the call, and
the time of the call. The full-matrix method needs about ``24 * N ** 2``
bytes, so by default it runs at ``--baseline-n`` and its memory is scaled
by ``(N / baseline_n) ** 2``; ``--baseline-n`` equal to ``--n`` measures
it at ``N`` itself. Both methods also run at ``--baseline-n``, where their
Recall@K must agree.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

KS = (1, 2, 4, 8)


def full_matrix_recall(x, y, ks=KS):
    """Recall@K from the whole similarity matrix (the former method)."""
    x = np.asarray(x, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    order = np.argsort(-sim, axis=1, kind='stable')[:, :max(ks)]
    match = y[order] == y[:, None]
    return {k: 100.0 * float(match[:, :k].any(axis=1).mean()) for k in ks}


def _rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def _reset_peak() -> bool:
    """Start the peak resident memory afresh (Linux: ``clear_refs`` 5), so
    that the imports' own peak does not count; False where it cannot."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _peak_bytes(reset: bool) -> int:
    """The peak resident memory since :func:`_reset_peak` (``VmHWM``), else
    of the whole process."""
    if reset:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(method: str, n: int, dim: int, classes: int) -> dict:
    import torch

    # Imported before the memory before the call is read, so that the
    # import does not count as growth.
    from mmdsb.evaluation.lt_metrics import recall_at_k
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, dim, generator=g)
    y = torch.randint(classes, (n, ), generator=g).numpy()
    reset = _reset_peak()
    before = _rss_bytes()
    start = time.perf_counter()
    if method == 'blocked':
        recall = recall_at_k(x, y, KS)
    else:
        recall = full_matrix_recall(x.numpy(), y, KS)
    seconds = time.perf_counter() - start
    peak = _peak_bytes(reset)
    return dict(growth=max(peak - before, 0), seconds=seconds,
                recall={str(k): v for k, v in recall.items()})


def measure(method: str, n: int, dim: int = 64, classes: int = 100) -> dict:
    """``growth`` (bytes), ``seconds`` and ``recall`` of one method, in a
    fresh Python process (so that earlier peaks do not hide this one)."""
    out = subprocess.run(
        [sys.executable, __file__, '--child', method, '--n', str(n),
         '--dim', str(dim), '--classes', str(classes)],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--n', type=int, default=24000)
    parser.add_argument('--dim', type=int, default=64)
    parser.add_argument('--classes', type=int, default=100)
    parser.add_argument('--baseline-n', type=int, default=8000)
    parser.add_argument('--child', choices=['blocked', 'full'])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.n, args.dim,
                                args.classes)))
        return
    nb = min(args.baseline_n, args.n)
    full = measure('full', nb, args.dim, args.classes)
    small = measure('blocked', nb, args.dim, args.classes)
    if small['recall'] != full['recall']:
        raise RuntimeError(f'Recall@K differs at N = {nb}: blocked '
                           f'{small["recall"]}, full {full["recall"]}')
    blocked = measure('blocked', args.n, args.dim, args.classes)
    full_at_n = full['growth'] * (args.n / nb)**2
    mib = 2.0**20
    print(f'Recall@K peak memory growth, {args.dim}-d, {args.classes} '
          f'classes (Recall@K equal at N = {nb}):')
    print(f'  full matrix, N = {nb}: {full["growth"] / mib:8.0f} MiB '
          f'{full["seconds"]:6.1f} s')
    print(f'  blocked,     N = {nb}: {small["growth"] / mib:8.0f} MiB '
          f'{small["seconds"]:6.1f} s')
    scaled = '' if nb == args.n else ' (scaled by N^2)'
    print(f'  full matrix, N = {args.n}: {full_at_n / mib:8.0f} MiB'
          f'{scaled}')
    print(f'  blocked,     N = {args.n}: {blocked["growth"] / mib:8.0f} '
          f'MiB {blocked["seconds"]:6.1f} s')
    print(f'  full / blocked at N = {args.n}: '
          f'{full_at_n / max(blocked["growth"], 1):.1f}x')


if __name__ == '__main__':
    main()
