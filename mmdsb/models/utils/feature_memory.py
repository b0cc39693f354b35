"""A labelled FIFO memory of classifier inputs, identical on every rank."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ...engine.gather import gather_rows
from ...guards import positive_int

__all__ = ['FeatureMemory']


class FeatureMemory(nn.Module):
    """The last ``size`` admitted (feature, label) pairs, oldest
    overwritten first.

    Each training step, :meth:`push` gathers the batch of every rank (rank
    order, batches may differ in size), draws one uniform number per row
    from the memory's own generator, and admits row ``i`` when that number
    is below ``admit_prob[label_i]``; rows with a non-finite feature never
    enter. Every rank sees the same rows and draws the same numbers, so
    every rank holds the same memory without a broadcast. Rows are written
    in the order of the gathered batch; when more rows are admitted than
    the memory holds, the last ``size`` stay.

    The features, labels (``-1`` for an empty slot), write position and
    fill level are buffers and the generator's state is the module's extra
    state, so a checkpoint resumes the memory and its draws exactly.

    Args:
        size: number of entries.
        dim: feature dimension.
        seed: seed of the admission draws (the same on every rank).
    """

    def __init__(self, size: int, dim: int, seed: int = 0):
        super().__init__()
        owner = type(self).__name__
        self.size = positive_int(size, 'size', owner)
        self.dim = positive_int(dim, 'dim', owner)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f'{owner}: seed must be an integer >= 0, got '
                             f'{seed!r}')
        self.register_buffer('feats', torch.zeros(self.size, self.dim))
        self.register_buffer('labels',
                             torch.full((self.size, ), -1, dtype=torch.long))
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('filled', torch.zeros((), dtype=torch.long))
        # On the CPU whatever the device of the buffers: the same numbers
        # on CPU and GPU ranks, and a state that a checkpoint can hold.
        self.generator = torch.Generator().manual_seed(seed)

    def get_extra_state(self) -> Tensor:
        return self.generator.get_state()

    def set_extra_state(self, state: Tensor) -> None:
        self.generator.set_state(state.cpu())

    def entries(self) -> Tuple[Tensor, Tensor]:
        """The filled ``(features, labels)``; slots fill in order from 0,
        so they are the first ``filled`` rows."""
        n = int(self.filled)
        return self.feats[:n], self.labels[:n]

    @torch.no_grad()
    def push(self,
             feats: Tensor,
             labels: Tensor,
             admit_prob: Optional[Tensor] = None) -> int:
        """Gather the batch of all ranks and write the admitted rows.

        Args:
            feats: ``(n, dim)`` features of this rank's batch (detached
                here).
            labels: ``(n,)`` class indices.
            admit_prob: ``(C,)`` admission probability per class; ``None``
                admits every row.

        Returns:
            the number of rows written (the same on every rank).
        """
        owner = type(self).__name__
        if feats.dim() != 2 or feats.shape[1] != self.dim:
            raise ValueError(f'{owner}: features must be (n, {self.dim}), '
                             f'got {tuple(feats.shape)}')
        if labels.shape != feats.shape[:1]:
            raise ValueError(f'{owner}: {feats.shape[0]} features but '
                             f'labels of shape {tuple(labels.shape)}')
        x, y, _, _ = gather_rows(feats.detach(), labels.long())
        # One read of the labels and the finite-row mask: a non-finite
        # feature would turn the memory loss NaN for as long as it stays.
        y_cpu, finite = torch.stack([y, torch.isfinite(x).all(dim=1).long()
                                     ]).cpu()
        keep = finite.bool()
        if admit_prob is not None:
            if y_cpu.numel() and not (0 <= int(y_cpu.min())
                                      and int(y_cpu.max()) < len(admit_prob)):
                raise ValueError(
                    f'{owner}: labels must lie in [0, {len(admit_prob)}), '
                    f'got {int(y_cpu.min())}..{int(y_cpu.max())}')
            # One draw per row, admitted or not, so that the stream of
            # draws depends on the batch sizes only.
            draws = torch.rand(y_cpu.numel(),
                               generator=self.generator,
                               dtype=torch.float64)
            keep &= draws < admit_prob.cpu().double()[y_cpu]
        if not keep.all():
            rows = keep.nonzero().flatten().to(x.device)
            x, y = x[rows], y[rows]
        k = x.shape[0]
        m = min(k, self.size)
        ptr = int(self.ptr)
        # Of more than `size` admitted rows only the last `size` survive;
        # they land where the whole sequence would have put them.
        slots = (ptr + (k - m) + torch.arange(m)) % self.size
        slots = slots.to(self.feats.device)
        self.feats[slots] = x[k - m:].to(self.feats.dtype)
        self.labels[slots] = y[k - m:].to(self.labels.device)
        self.ptr.fill_((ptr + k) % self.size)
        self.filled.fill_(min(int(self.filled) + k, self.size))
        return k
