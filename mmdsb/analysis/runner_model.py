"""A checkpoint's model, built and run exactly as mmengine's Runner does.

``tools/test.py`` evaluates a checkpoint with ``Runner.from_cfg(cfg)`` and
``runner.test()``. The Runner merges the config's top-level
``data_preprocessor`` into ``cfg.model`` (the input normalisation of most
configs lives there), builds the model in the config's default scope,
never applies ``init_cfg`` over a loaded checkpoint (``init_weights`` runs
in ``train`` only), loads the weights with ``Runner.load_checkpoint`` and
feeds each batch of the dataloader to ``model.test_step`` (mmengine's
``TestLoop``). :class:`RunnerModel` builds that same Runner and runs the
same steps, so every number an analysis derives from a checkpoint comes
from the inputs and outputs of the test run.

Nothing here is specific to a task: what is read from each batch is chosen
by the caller (classification: :mod:`mmdsb.analysis.features`).
"""
import copy
import os.path as osp
import tempfile
from typing import Callable, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.amp import autocast
from mmengine.runner.loops import _update_losses

from .checkpoint import check_state_dict, read_state_dict
from .data import AnalysisError, build_dataset, eval_pipeline

# Hook of one batch: ``(data_batch, outputs)`` after ``model.test_step``.
BatchHook = Callable[[dict, Sequence], None]


def build_runner(cfg: Config) -> Runner:
    """The Runner of ``cfg`` for a single process, without a checkpoint.

    Its work folder is temporary: the Runner writes a copy of the config
    and opens its log file there when it is built; the folder is removed
    right after, and later messages still reach the console."""
    cfg = copy.deepcopy(cfg)
    cfg.launcher = 'none'
    cfg.load_from = None
    cfg.resume = False
    # The set-up messages (environment, hooks) are the training log's;
    # here only problems are shown.
    cfg.log_level = 'WARNING'
    with tempfile.TemporaryDirectory(prefix='mmdsb_analysis_') as work_dir:
        cfg.work_dir = work_dir
        # A name of its own: the Runner's logger and visualizer are global
        # instances by name, and one of another Runner (same config, same
        # second) would write into that Runner's folder.
        cfg.experiment_name = osp.basename(work_dir)
        try:
            if 'runner_type' in cfg:
                return RUNNERS.build(cfg)
            return Runner.from_cfg(cfg)
        except Exception as err:
            raise AnalysisError(
                'could not build the model of the config as mmengine\'s '
                f'Runner does: {type(err).__name__}: {err}') from err


class RunnerModel:
    """The model of ``cfg`` with the weights of ``checkpoint``, in eval mode
    on ``device``.

    Raises :class:`~mmdsb.analysis.AnalysisError` when the checkpoint does
    not fit the model (every mismatched and missing parameter named).
    """

    def __init__(self, cfg: Config, checkpoint: str, device: str = 'cpu'):
        self.cfg = cfg
        self.checkpoint = checkpoint
        self.runner = build_runner(cfg)
        model = self.runner.model
        # Checked first, so that a foreign checkpoint stops with one clear
        # message instead of mmengine's partial load.
        check_state_dict(model, read_state_dict(checkpoint), checkpoint)
        self.runner.load_checkpoint(checkpoint, map_location='cpu')
        self.model = model.to(device).eval()
        test_cfg = cfg.get('test_cfg') or {}
        self.fp16 = bool(test_cfg.get('fp16', False))

    def dataloader(self, split: str, workers: int = 0):
        """The ``{split}_dataloader`` reading every sample once, in dataset
        order, with the deterministic pipeline (:func:`eval_pipeline`)."""
        dataset = build_dataset(self.cfg, split, eval_pipeline(self.cfg,
                                                               split))
        loader = copy.deepcopy(self.cfg[f'{split}_dataloader'])
        # Samplers and batch samplers of training (class-aware,
        # aspect-ratio grouping) would repeat, drop or reorder samples.
        loader.pop('batch_sampler', None)
        loader.update(
            dataset=dataset,
            sampler=dict(type='DefaultSampler', shuffle=False),
            num_workers=workers,
            persistent_workers=workers > 0)
        return Runner.build_dataloader(loader)

    def evaluator(self, split: str) -> Optional[Evaluator]:
        """The config's ``{split}_evaluator`` (``val`` and ``test``; the
        training split has none), as the Runner builds it."""
        spec = self.cfg.get(f'{split}_evaluator') if split != 'train' \
            else None
        if not spec:
            return None
        return self.runner.build_evaluator(copy.deepcopy(spec))

    @torch.no_grad()
    def run(self,
            loader,
            on_batch: BatchHook,
            evaluator: Optional[Evaluator] = None,
            progress=None) -> Optional[dict]:
        """Feed every batch of ``loader`` to ``model.test_step`` as
        mmengine's ``TestLoop`` does, call ``on_batch`` with the batch and
        its outputs, and return the evaluator's metrics (``None`` without
        an evaluator)."""
        dataset = loader.dataset
        if evaluator is not None:
            evaluator.dataset_meta = getattr(dataset, 'metainfo', None)
        self.model.eval()
        for data_batch in loader:
            with autocast(enabled=self.fp16):
                outputs = self.model.test_step(data_batch)
            outputs, _ = _update_losses(outputs, {})
            on_batch(data_batch, outputs)
            if evaluator is not None:
                evaluator.process(data_samples=outputs, data_batch=data_batch)
            if progress is not None:
                progress.update(len(outputs))
        if evaluator is None:
            return None
        return evaluator.evaluate(len(dataset))
