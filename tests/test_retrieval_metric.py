"""RetrievalMetric on embeddings against brute force: Recall@K by double
loops over cosine similarities, NMI from the contingency table, test
classes unknown to the head, the gather order and sampler padding, and
two gloo processes against one; Recall@K with tied similarities against
exact cosines, in blocks against the full similarity matrix, and its peak
memory at CIFAR-100 test size."""
import importlib.util
import os.path as osp
import socket
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.dataset import DefaultSampler
from mmpretrain.registry import METRICS, MODELS
from mmpretrain.structures import DataSample
from sklearn.cluster import KMeans

import mmdsb  # noqa: F401
from mmdsb.evaluation import recall_at_k

KS = (1, 2, 4, 8)


def brute_recall(x, y, k):
    """Percent of samples with a same-label sample among their k most
    cosine-similar other samples (double loop, float64)."""
    x = np.asarray(x, dtype=np.float64)
    hits = 0
    for i in range(len(x)):
        sims = []
        for j in range(len(x)):
            if j != i:
                cos = x[i] @ x[j] / (np.linalg.norm(x[i]) *
                                     np.linalg.norm(x[j]))
                sims.append((-cos, j))
        hits += any(y[j] == y[i] for _, j in sorted(sims)[:k])
    return 100.0 * hits / len(x)


def nmi_by_hand(a, b):
    """NMI (percent) with the arithmetic mean of the entropies."""
    a, b = np.asarray(a), np.asarray(b)
    n = len(a)
    mi = ha = hb = 0.0
    for u in set(a.tolist()):
        pu = np.mean(a == u)
        ha -= pu * np.log(pu)
        for v in set(b.tolist()):
            puv = np.sum((a == u) & (b == v)) / n
            if puv > 0:
                mi += puv * np.log(puv / (pu * np.mean(b == v)))
    for v in set(b.tolist()):
        pv = np.mean(b == v)
        hb -= pv * np.log(pv)
    return 100.0 * mi / ((ha + hb) / 2)


def kmeans_clusters(x, k):
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    return KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(unit)


def clustered(n_classes, per_class, dim=6, spread=0.8, seed=0):
    g = np.random.default_rng(seed)
    centres = g.normal(size=(n_classes, dim)) * 2
    y = np.repeat(np.arange(n_classes), per_class)
    return centres[y] + g.normal(size=(len(y), dim)) * spread, y


def samples(x, y, key='embedding', indices=None):
    out = []
    for i, (e, lab) in enumerate(zip(x, y)):
        s = DataSample().set_gt_label(int(lab))
        s.set_field(torch.tensor(e, dtype=torch.float32), key)
        s.set_metainfo(dict(sample_idx=i if indices is None else
                            int(indices[i])))
        out.append(s.to_dict())
    return out


def evaluate(data, size=None, **kwargs):
    metric = METRICS.build(dict(type='RetrievalMetric',
                                embedding_key='embedding', **kwargs))
    metric.process(None, data)
    return metric.evaluate(size or len(data)), metric


def expected(x, y):
    x32 = np.asarray(x, dtype=np.float32).astype(np.float64)
    out = {f'retrieval/R@{k}': brute_recall(x32, y, k) for k in KS}
    out['retrieval/NMI'] = nmi_by_hand(
        y, kmeans_clusters(x32, len(set(y.tolist()))))
    return out


def test_recall_and_nmi_against_brute_force():
    x, y = clustered(7, 5, spread=1.5)
    res, _ = evaluate(samples(x, y))
    ref = expected(x, y)
    assert res.keys() == ref.keys()
    for key in ref:
        assert res[key] == pytest.approx(ref[key], abs=1e-9), key
    # Not all 100: the reference would miss a broken nearest-neighbour.
    assert 0 < ref['retrieval/R@1'] < 100


def test_well_separated_clusters_give_100():
    x, y = clustered(5, 4, dim=8, spread=0.01, seed=3)
    res, _ = evaluate(samples(x, y))
    assert res['retrieval/NMI'] == pytest.approx(100.0)
    assert all(res[f'retrieval/R@{k}'] == 100.0 for k in (1, 2))


def test_test_classes_unknown_to_a_60_class_head():
    """Labels 100..139 with a head of 60 training classes: retrieval and
    K-means use the head's embeddings, never its class scores."""
    torch.manual_seed(0)
    head = MODELS.build(dict(type='CosineClsHead', num_classes=60,
                             in_channels=16, embed_dim=8)).eval()
    x, y = clustered(40, 2, dim=16, spread=0.6, seed=1)
    y = y + 100
    feats = torch.tensor(x, dtype=torch.float32)
    preds = head.predict((feats, ),
                         [DataSample().set_gt_label(int(v)) for v in y])
    by_hand = feats @ head.embed.weight.T + head.embed.bias
    data = []
    for i, p in enumerate(preds):
        assert p.pred_score.shape == (60, )
        assert torch.allclose(p.embedding, by_hand[i], atol=1e-6)
        p.set_metainfo(dict(sample_idx=i))
        data.append(p.to_dict())
    res, metric = evaluate(data)
    emb = by_hand.detach().double().numpy()
    ref = expected(emb, y)
    for key in ref:
        assert res[key] == pytest.approx(ref[key], abs=1e-4), key
    assert (metric.num_samples, metric.num_classes) == (80, 40)


def test_gather_order_and_sampler_padding_do_not_change_the_result():
    x, y = clustered(6, 5, spread=1.2, seed=2)
    clean, _ = evaluate(samples(x, y))
    # Rank-interleaved order plus the repeats that fill the last batch.
    order = np.r_[np.arange(0, 30, 2), np.arange(1, 30, 2), 0, 1, 2]
    shuffled = samples(x[order], y[order], indices=order)
    res, _ = evaluate(shuffled, size=len(shuffled))
    assert res == clean


def _rank_main(rank, world, port, x, y, out):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world)
    try:
        # mmengine's sampler shards the 37 samples and repeats one to
        # give both ranks 19.
        sampler = DefaultSampler(list(range(len(y))), shuffle=False)
        mine = np.array(list(sampler))
        assert len(mine) == 19
        metric = METRICS.build(dict(type='RetrievalMetric',
                                    embedding_key='embedding'))
        data = samples(x[mine], y[mine], indices=mine)
        for start in range(0, len(data), 4):
            metric.process(None, data[start:start + 4])
        res = metric.evaluate(len(y))
        if rank == 0:
            torch.save(res, out)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_equal_one(tmp_path):
    x, y = clustered(5, 8, spread=1.3, seed=4)
    x, y = x[:37], y[:37]
    single, _ = evaluate(samples(x, y))
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out = str(tmp_path / 'rank0.pt')
    # Spawned, not forked: K-means ran OpenMP threads in this process, and
    # a forked child's OpenMP pool waits for them forever.
    mp.start_processes(_rank_main, args=(2, port, x, y, out), nprocs=2,
                       start_method='spawn')
    assert torch.load(out) == single


def test_table_and_errors():
    x, y = clustered(3, 4, seed=5)
    res, metric = evaluate(samples(x, y))
    lines = metric.format_table(res).splitlines()
    assert lines[0] == 'Retrieval on the test set (12 images of 3 classes):'
    assert lines[1].split() == ['R@1', 'R@2', 'R@4', 'R@8', 'NMI']
    assert [float(v) for v in lines[2].split()] == pytest.approx(
        [res[f'retrieval/{k}'] for k in ('R@1', 'R@2', 'R@4', 'R@8',
                                         'NMI')], abs=0.006)
    with pytest.raises(ValueError, match="no 'embedding'"):
        evaluate(samples(x, y, key='feats'))
    with pytest.raises(ValueError, match="embedding_key='embedding'"):
        METRICS.build(dict(type='RetrievalMetric')).process(
            None, samples(x, y, key='embedding'))
    with pytest.raises(ValueError, match='ks'):
        METRICS.build(dict(type='RetrievalMetric', ks=(0, 1)))
    with pytest.raises(ValueError, match='Recall@8 needs more than 8'):
        evaluate(samples(x[:6], y[:6]))


def exact_recall(x, y, ks):
    """Recall@K (percent) of integer embeddings from exact rational
    cosines: neighbours by decreasing cosine, equal cosines by the lower
    index, never the query itself; a zero vector has cosine 0 to all."""
    x = [[int(v) for v in row] for row in x]
    sq = [sum(v * v for v in row) for row in x]
    found = dict.fromkeys(ks, 0)
    for i in range(len(x)):
        keys = []
        for j in range(len(x)):
            if j == i:
                continue
            dot = sum(a * b for a, b in zip(x[i], x[j]))
            # cos ** 2 with its sign, up to the query's norm (one row).
            cos = Fraction(0) if sq[i] == 0 or sq[j] == 0 else Fraction(
                (dot > 0) - (dot < 0)) * Fraction(dot * dot, sq[j])
            keys.append((-cos, j))
        ranked = [j for _, j in sorted(keys)]
        for k in ks:
            found[k] += any(y[j] == y[i] for j in ranked[:k])
    return {k: 100.0 * (found[k] / len(x)) for k in ks}


def tied_points():
    """Axis points: 0, 1, 2 on the x axis (labels A, B, A), 3, 4, 5 on
    the y axis (B, A, C); every query's neighbours tie in two groups."""
    x = np.array([[1, 0], [2, 0], [3, 0], [0, 1], [0, 5], [0, 1]])
    return x, np.array(['A', 'B', 'A', 'B', 'A', 'C'])


@pytest.mark.parametrize('block_size', [None, 1, 4, 5, 6])
def test_recall_ties_go_to_the_lower_index(block_size):
    x, y = tied_points()
    # Ranked neighbours: 0 -> 1 2 | 3 4 5; 1 -> 0 2 | 3 4 5;
    # 2 -> 0 1 | 3 4 5; 3 -> 4 5 | 0 1 2; 4 -> 3 5 | 0 1 2;
    # 5 -> 3 4 | 0 1 2. Found at K = 1: query 2; 2: 0, 2; 3: 0, 1, 2, 4;
    # 4: also 3 (5, of label C, never).
    want = {k: 100.0 * (hits / 6) for k, hits in
            {1: 1, 2: 2, 3: 4, 4: 5, 5: 5}.items()}
    assert exact_recall(x, y, tuple(want)) == want
    assert recall_at_k(x, y, tuple(want), block_size=block_size) == want
    # Ties to the higher index (the points in reverse order) give
    # R@3 = 3/6 instead.
    assert exact_recall(x[::-1], y[::-1], (3, )) == {3: 50.0}


def test_recall_with_ties_against_exact_cosines():
    """57 integer embeddings, each one of a few vectors (a zero vector,
    axis vectors, distinct vectors at equal cosines to a third), repeated
    across labels: blocks of 1, 8, 56 and 57 rows and the default give
    the exact result. No entry is negative, so that no cosine is zero by
    cancellation (a float sum of products need not cancel exactly)."""
    g = np.random.default_rng(7)
    protos = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 1],
                       [1, 1, 0], [2, 0, 1], [1, 1, 1], [2, 1, 0]])
    x = protos[g.integers(len(protos), size=57)]
    y = g.integers(4, size=57)
    ks = (1, 2, 3, 4, 8, 16)
    want = exact_recall(x, y, ks)
    # The ties decide: ranking them from the higher index changes the
    # result, so a different tie-break would fail below.
    flipped = exact_recall(x[::-1], y[::-1], ks)
    assert flipped != want
    for block_size in (1, 8, 56, 57, None):
        assert recall_at_k(x, y, ks, block_size=block_size) == want
    assert recall_at_k(torch.tensor(x, dtype=torch.float32),
                       torch.tensor(y), ks, block_size=8) == want


def test_blocks_equal_the_full_matrix():
    """Random embeddings with repeated rows: any block size gives the
    result of the full similarity matrix (the method the benchmark script
    compares with)."""
    x, y = clustered(30, 10, dim=16, spread=1.5, seed=6)
    x[::7] = x[3]  # one embedding shared by samples of many classes
    x = x.astype(np.float32)
    want = _benchmark_script().full_matrix_recall(x, y, KS)
    assert 0 < want[1] < 100
    for block_size in (1, 37, 299, None):
        assert recall_at_k(x, y, KS, block_size=block_size) == want


def test_recall_at_k_errors():
    x, y = tied_points()
    with pytest.raises(ValueError, match='NaN or infinite'):
        recall_at_k(np.where(x == 5, np.nan, x), y, (1, ))
    with pytest.raises(ValueError, match='6 embeddings and 5 labels'):
        recall_at_k(x, y[:5], (1, ))
    with pytest.raises(ValueError, match='block_size'):
        recall_at_k(x, y, (1, ), block_size=0)


def _benchmark_script():
    spec = importlib.util.spec_from_file_location(
        'benchmark_retrieval_memory',
        osp.join(osp.dirname(__file__), '..', 'tools', 'analysis_tools',
                 'benchmark_retrieval_memory.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recall_memory_at_cifar100_test_size():
    """CIFAR-100 test size (24,000 embeddings, 100 classes): the peak
    memory of Recall@K stays under 1 GB (the full matrix took ~14 GB)."""
    res = _benchmark_script().measure('blocked', 24000, dim=64)
    assert res['growth'] < 1e9, res
    assert 0 < res['recall']['1'] < res['recall']['8'] < 100
