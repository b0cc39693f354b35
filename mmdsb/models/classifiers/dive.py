"""DiVE (He, Wu and Wei, *Distilling Virtual Examples for Long-tailed
Recognition*, ICCV 2021): a student classifier distilling a trained,
frozen teacher."""
import copy
import os.path as osp
from typing import List, Optional

import torch
from mmengine.runner.checkpoint import _load_checkpoint
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

__all__ = ['DiVEClassifier']

TEACHER = 'teacher.'


def _strip_wrapper(state: dict) -> dict:
    """Keys of a checkpoint saved from a wrapped (DDP) model unwrapped."""
    if state and all(k.startswith('module.') for k in state):
        return {k[len('module.'):]: v for k, v in state.items()}
    return state


@MODELS.register_module()
class DiVEClassifier(ImageClassifier):
    """An ``ImageClassifier`` (the student) trained against the logits of a
    frozen teacher, which its head's loss (``DiVELoss``) receives as
    ``teacher_score``.

    The teacher is an ``ImageClassifier``: ``teacher`` (a config) or, by
    default, the student's own architecture, as in the paper's Table 2
    setting. Its weights come from ``teacher_checkpoint`` (an mmengine
    checkpoint of the teacher's run, e.g. the balanced-softmax config's
    last epoch), loaded by ``init_weights`` at the start of every training
    run, resumed ones included. It is frozen (``requires_grad=False``) and
    always in eval mode (its batch-norm statistics never move), and it sees
    the same augmented, preprocessed images as the student.

    The teacher is not part of the student's checkpoints: ``state_dict``
    leaves its ``teacher.*`` entries out, and loading a student checkpoint
    keeps the teacher already in memory. A trained student therefore tests
    without the teacher's file; only training reads it.

    Args:
        backbone, neck, head, pretrained, train_cfg, data_preprocessor,
            init_cfg: the student, as for ``ImageClassifier``.
        teacher_checkpoint: path (or URL) of the teacher's checkpoint.
        teacher: config of the teacher; ``None`` copies the student's
            backbone, neck and head.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 teacher_checkpoint: Optional[str] = None,
                 teacher: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not teacher_checkpoint or not isinstance(teacher_checkpoint, str):
            raise ValueError(
                'DiVEClassifier needs teacher_checkpoint=<path of the '
                f"teacher's checkpoint>, got {teacher_checkpoint!r}")
        if teacher is None:
            if not isinstance(head, dict):
                raise TypeError('DiVEClassifier: give teacher=dict(...) when '
                                'the head is not a config')
            # The same architecture, without the student's pretrained
            # initialisation (the checkpoint replaces it) or loss.
            teacher = dict(
                type='ImageClassifier', backbone=copy.deepcopy(backbone),
                neck=copy.deepcopy(neck),
                head=dict(copy.deepcopy(head),
                          loss=dict(type='CrossEntropyLoss')))
            if isinstance(teacher['backbone'], dict):
                teacher['backbone'].pop('init_cfg', None)
        super().__init__(backbone, neck, head, pretrained, train_cfg,
                         data_preprocessor, init_cfg)
        self.teacher = MODELS.build(teacher)
        student = getattr(self.head, 'num_classes', None)
        taught = getattr(self.teacher.head, 'num_classes', None)
        if student != taught:
            raise ValueError(f'DiVEClassifier: the teacher has {taught} '
                             f'classes but the student has {student}')
        self.teacher_checkpoint = teacher_checkpoint
        self.teacher.requires_grad_(False)
        self.teacher.eval()
        self.teacher_loaded = False
        self._register_state_dict_hook(_drop_teacher)
        self._register_load_state_dict_pre_hook(_keep_teacher,
                                                with_module=True)

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        return self

    def init_weights(self):
        # The teacher's random initialisation would be overwritten at once.
        self.teacher._is_init = True
        super().init_weights()
        self.load_teacher()

    def load_teacher(self) -> None:
        """Load ``teacher_checkpoint`` into the teacher, which must match it
        key for key and shape for shape."""
        path = self.teacher_checkpoint
        if '://' not in path and not osp.isfile(path):
            raise FileNotFoundError(
                f'DiVEClassifier: teacher checkpoint {path!r} does not '
                'exist; train the teacher first (e.g. the balanced-softmax '
                'config) or set model.teacher_checkpoint')
        ckpt = _load_checkpoint(path, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) \
            else None
        if not isinstance(state, dict):
            raise ValueError(f'DiVEClassifier: teacher checkpoint {path!r} '
                             'holds no state dict')
        state = _strip_wrapper(dict(state))
        own = self.teacher.state_dict()
        num_classes = self.teacher.head.num_classes
        for key, value in own.items():
            if key not in state or state[key].shape == value.shape:
                continue
            if key.startswith('head.'):
                raise ValueError(
                    f'DiVEClassifier: teacher checkpoint {path!r} does not '
                    f'match the {num_classes} classes of the model: '
                    f'{key} has shape {tuple(state[key].shape)}, expected '
                    f'{tuple(value.shape)}')
            raise ValueError(
                f'DiVEClassifier: teacher checkpoint {path!r} does not fit '
                f'the teacher: {key} has shape {tuple(state[key].shape)}, '
                f'expected {tuple(value.shape)}')
        missing = [k for k in own if k not in state]
        if missing:
            raise ValueError(
                f'DiVEClassifier: teacher checkpoint {path!r} lacks '
                f'{len(missing)} weights of the teacher, e.g. '
                f'{missing[:3]}; is it a checkpoint of this architecture?')
        self.teacher.load_state_dict({k: state[k] for k in own})
        self.teacher.eval()
        self.teacher_loaded = True

    @torch.no_grad()
    def teacher_logits(self, inputs: Tensor) -> Tensor:
        if not self.teacher_loaded:
            raise RuntimeError(
                'DiVEClassifier: the teacher has not been loaded from '
                f'{self.teacher_checkpoint!r}; call init_weights() (the '
                'Runner does so before training) or load_teacher()')
        return self.teacher(inputs, mode='tensor')

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        feats = self.extract_feat(inputs)
        return self.head.loss(feats, data_samples,
                              teacher_score=self.teacher_logits(inputs))


def _drop_teacher(module, state_dict, prefix, local_metadata):
    """State-dict hook: the teacher is not saved with the student."""
    for key in [k for k in state_dict if k.startswith(prefix + TEACHER)]:
        del state_dict[key]


def _keep_teacher(module, state_dict, prefix, local_metadata, strict,
                  missing_keys, unexpected_keys, error_msgs):
    """Load pre-hook: a student checkpoint (no ``teacher.*`` entries)
    leaves the teacher as it is."""
    if any(k.startswith(prefix + TEACHER) for k in state_dict):
        return
    for key, value in module.teacher.state_dict().items():
        state_dict[prefix + TEACHER + key] = value
