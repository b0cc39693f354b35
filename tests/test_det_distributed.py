"""Two CPU processes (gloo) train a DSB Faster R-CNN through mmdet's
Runner and end with the same bank, holding both ranks' instances."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from mmdsb.det.datasets import write_digits_lvis

# Slow: two training processes (gloo).
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

TRAIN = '''
import sys
sys.path[:0] = [{root!r}, {tests!r}]
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmdsb.det  # noqa: F401
from det_models import dsb_hook, faster_rcnn, runner_cfg
from mmdsb.engine.consumer import DSBConsumer


class DumpBank(Hook):
    priority = 'LOWEST'

    def before_train(self, runner):
        # Count the rows that enter the bank in each epoch.
        head, = [m for m in runner.model.modules()
                 if isinstance(m, DSBConsumer)]
        bank, self.pushed = head.dsb_weighter.bank, []
        push = bank.push

        def counted_push(feats, labels, evict=0, valid=None):
            entering = labels >= 0 if valid is None else valid
            self.pushed[-1] += int(entering.sum())
            return push(feats, labels, evict, valid)

        bank.push = counted_push

    def before_train_epoch(self, runner):
        self.pushed.append(0)

    def after_train(self, runner):
        head, = [m for m in runner.model.modules()
                 if isinstance(m, DSBConsumer)]
        feats, labels = head.dsb_weighter.bank.ordered()
        torch.save(dict(feats=feats, labels=labels,
                        stage=int(head.dsb_weighter.stage),
                        fc_cls=head.fc_cls.weight.detach(),
                        pushed=torch.tensor(self.pushed)),
                   {out!r} + f'/rank{{get_rank()}}.pt')


# mmengine's init_dist needs CUDA: start gloo from torchrun's variables
# and give DDP no device ids (CPU modules).
dist.init_process_group('gloo', init_method='env://')
cfg = runner_cfg(faster_rcnn(), {fixture!r}, {work!r}, max_epochs=2,
                 launcher='pytorch',
                 batch_sampler=dict(type='AspectRatioBatchSampler'),
                 cfg=Config(dict(model_wrapper_cfg=dict(
                     type='MMDistributedDataParallel', device_ids=None,
                     broadcast_buffers=False))),
                 custom_hooks=[dsb_hook(), DumpBank()])
Runner(**cfg).train()
dist.barrier()
dist.destroy_process_group()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_ranks_end_with_identical_banks(tmp_path):
    # Nine images on two ranks: the sampler pads the epoch with a repeat,
    # which mmdet's AspectRatioBatchSampler may place in any batch.
    fixture = write_digits_lvis(str(tmp_path / 'digits'), num_train=9,
                                num_val=2, seed=1)
    script = tmp_path / 'train_dsb_det.py'
    script.write_text(
        TRAIN.format(root=ROOT, tests=osp.join(ROOT, 'tests'),
                     out=str(tmp_path), fixture=fixture,
                     work=str(tmp_path / 'work')))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
         '2', '--master_port', str(free_port()), str(script)],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rank0 = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    rank1 = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    assert rank0['stage'] == rank1['stage'] == 3
    for key in ('feats', 'labels', 'fc_cls'):
        assert torch.equal(rank0[key], rank1[key]), key
    # Each rank trains on half of the images; the bank holds all of them.
    with open(fixture['train_ann_file']) as f:
        anns = json.load(f)['annotations']
    counts = torch.bincount(
        torch.tensor([a['category_id'] - 1 for a in anns]), minlength=10)
    assert torch.equal(torch.bincount(rank0['labels'], minlength=10),
                       counts)
    # Each epoch brings every instance once, without the padding repeat.
    assert rank0['pushed'].tolist() == [len(anns)] * 2
