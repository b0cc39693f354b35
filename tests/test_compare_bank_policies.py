"""The bank-policy measurement (tools/analysis_tools/compare_bank_policies.py)
in its short form: one seed, a few epochs, a small detection set."""
import os.path as osp
import statistics
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
import compare_bank_policies  # noqa: E402

# Slow: six short training runs of the two demos.
pytestmark = pytest.mark.slow

CLS_EPOCHS, CLS_WARMUP, CLS_ITERS = 7, 5, 11  # 342 digits in batches of 32


def test_short_measurement(tmp_path, capsys):
    results = compare_bank_policies.main([
        '--seeds', '0', '--cls-epochs', str(CLS_EPOCHS), '--det-epochs', '3',
        '--num-train', '30', '--num-val', '10', '--work-dir', str(tmp_path)
    ])
    printed = capsys.readouterr().out
    for method in ('CE', 'DSB-FIFO', 'DSB-per-sample'):
        assert sum(line.startswith(method + ' ')
                   for line in printed.splitlines()) == 2  # cls and det
    cls = results['cls']['runs']
    # The digits' few-shot classes (fewer than 20 training images).
    assert cls['DSB-FIFO'][0]['rare'] == [5, 6, 7, 8, 9]
    # CE never re-weights; DSB re-weights every iteration after warm-up.
    assert cls['CE'][0]['weights'] == []
    for method in ('DSB-FIFO', 'DSB-per-sample'):
        run = cls[method][0]
        assert len(run['weights']) == (CLS_EPOCHS - CLS_WARMUP) * CLS_ITERS
        # The coefficient of variation by hand, class by class.
        cvs = [
            statistics.pstdev(w[c] for w in run['weights']) /
            statistics.fmean(w[c] for w in run['weights'])
            for c in run['rare']
        ]
        summary = results['cls']['summary'][method]
        assert summary['cv'][0] == pytest.approx(statistics.fmean(cvs))
        assert summary['fallback'][0] == sum(run['fallback'])
    # Every digit class has at least 2 images, all of them in the
    # per-sample bank after the first epoch: no class falls back.
    assert not any(cls['DSB-per-sample'][0]['fallback'])
    det = results['det']['runs']
    assert det['DSB-per-sample'][0]['weights']  # re-weighted at epoch 3
    for run in det.values():
        assert set(run[0]['groups']) == {'APr', 'APc', 'APf'}
