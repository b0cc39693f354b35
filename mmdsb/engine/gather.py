"""The global batch of the bank under data-parallel training."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather, get_world_size
from torch import Tensor

__all__ = ['gather_rows']


def gather_rows(
    feats: Tensor,
    labels: Tensor,
    valid: Optional[Tensor] = None,
    keys: Optional[Tensor] = None
) -> Tuple[Tensor, Tensor, Optional[Tensor], Optional[Tensor]]:
    """Concatenate every rank's rows in rank order (batches may differ in
    size), so that all ranks push the same global batch into their banks.

    ``valid`` (bool per row, or ``None`` for all rows) and ``keys`` (the
    sample of each row for a per-sample bank, or ``None``) travel with the
    rows. The batch sizes are exchanged first: the one host read of the
    update under data-parallel training, unavoidable while ranks may hold
    batches of different sizes (detection: instances per image)."""
    if get_world_size() == 1:
        return feats, labels, valid, keys
    n = feats.shape[0]
    sizes = [int(s) for s in all_gather(labels.new_tensor([n]))]
    pad = max(sizes) - n
    # Every rank gathers the mask, also one whose rows are all valid (the
    # ranks' padding differs): the collectives must match on all ranks.
    if valid is None:
        valid = torch.ones(n, dtype=torch.bool, device=feats.device)
    parts = [
        F.pad(feats, (0, 0, 0, pad)),
        F.pad(labels, (0, pad)),
        F.pad(valid.to(torch.uint8), (0, pad))
    ]
    if keys is not None:  # the same on every rank: the bank's policy
        parts.append(F.pad(keys.long(), (0, pad)))
    gathered = [
        torch.cat([g[:s] for g, s in zip(all_gather(t), sizes)])
        for t in parts
    ]
    feats, labels, valid = gathered[:3]
    return feats, labels, valid.bool(), (gathered[3] if keys is not None
                                         else None)
