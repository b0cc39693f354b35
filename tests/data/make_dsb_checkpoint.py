"""Writes ``dsb_checkpoint_v1.pth`` and ``dsb_checkpoint_v1.json``.

The checkpoint is what mmdsb 1.x's DSBHook saved after two epochs of the
digits demo (warm-up 1, so the bank is full and re-weighting has begun);
the JSON holds the class weights that code computed from the saved bank.
test_checkpoint_compat.py loads them with today's code, so a change in the
checkpoint format or in the formulas shows there. Kept to record how the
fixture was made; running it again overwrites the fixture with today's
output, which defeats its purpose.
"""
import json
import os.path as osp
import shutil
import tempfile

from mmengine.config import Config
from mmengine.runner import Runner

import mmdsb  # noqa: F401

HERE = osp.dirname(osp.abspath(__file__))
DEMO = osp.join(HERE, '..', '..', 'configs', 'demo',
                'ce_lenet5_digits-lt.py')


def main():
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = tempfile.mkdtemp()
    cfg.train_dataloader.dataset.pipeline = cfg.test_pipeline
    cfg.train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=100)
    cfg.param_scheduler = []
    cfg.custom_hooks = [dict(type='DSBHook', warmup_epochs=1)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2)
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'DSBHook')
    shutil.copy(osp.join(cfg.work_dir, 'epoch_2.pth'),
                osp.join(HERE, 'dsb_checkpoint_v1.pth'))
    weights = hook.weighter.class_weights(hook.weighter.semantic_scales(),
                                          record=False)
    with open(osp.join(HERE, 'dsb_checkpoint_v1.json'), 'w') as f:
        json.dump(dict(class_weights=weights.tolist(),
                       bank_size=len(hook.weighter.bank)), f, indent=1)


if __name__ == '__main__':
    main()
