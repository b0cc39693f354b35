"""The GPU hot path of the DSB bank reads nothing back to the host.

On CUDA, ``observe()`` runs under ``torch.cuda.set_sync_debug_mode('error')``.
Everywhere, the same steady-state step runs on the ``meta`` device, where
every data-dependent host read (``.item()``, ``bool(tensor)``, ``.tolist()``,
``nonzero``, ``unique``, boolean indexing) raises: the CPU proxy of the same
property. The masked scale and weight functions, the only ones on every device,
are checked against a float64 numpy reference that indexes and branches.
"""
import numpy as np
import pytest
import torch

from mmdsb.engine.weighter import SemanticScaleWeighter
from mmdsb.semantic_scale import dsb_weights, scales_from_volumes

# More classes than a step touches (2 x BATCH), so that the steady state
# takes the incremental path.
C, D, WIDE, CAPACITY, BATCH = 100, 16, 48, 400, 16


def _steady_state_steps(device, iters=4):
    """Fill the bank (stages 1-2), then run re-weighting steps (stage 3);
    return the weights of the last step."""
    weighter = SemanticScaleWeighter(bank_dim=D)
    weighter.init_bank(CAPACITY, C, torch.device(device))
    gen = torch.Generator().manual_seed(0)
    fill = CAPACITY // BATCH + 1
    labels = torch.randint(0, C, ((fill + 1 + iters) * BATCH, ),
                           generator=gen)
    feats = torch.randn(labels.numel(), WIDE, generator=gen)
    batches = [(feats[i:i + BATCH].to(device), labels[i:i + BATCH].to(device))
               for i in range(0, labels.numel(), BATCH)]
    for x, y in batches[:fill]:
        assert weighter.observe(x, y) is None
    assert weighter.bank.is_full
    weighter.stage = 3
    # The first re-weighting step computes every class; the later ones
    # are the incremental steady state.
    weighter.observe(*batches[fill])
    return weighter, batches[fill + 1:]


def test_steady_state_step_has_no_host_read_on_meta():
    weighter, batches = _steady_state_steps('meta')
    for x, y in batches:
        # Padding rows of the sampler take the masked path as well.
        weighter.kept_rows = torch.arange(BATCH, device='meta') < BATCH - 2
        weights = weighter.observe(x, y, torch.arange(BATCH, device='meta'))
        assert weights.shape == (C, ) and weights.device.type == 'meta'


def test_meta_device_catches_host_reads():
    # What the meta check relies on: each kind of host read raises.
    x = torch.ones(4, device='meta')
    for read in (lambda: x.sum().item(), lambda: bool(x.any()),
                 lambda: x.tolist(), lambda: x.nonzero(),
                 lambda: torch.unique(x), lambda: x[x > 0]):
        with pytest.raises((RuntimeError, NotImplementedError)):
            read()


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason='the host-synchronisation check of observe() needs CUDA')
def test_steady_state_step_has_no_host_sync_on_cuda():
    weighter, batches = _steady_state_steps('cuda')
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        for x, y in batches:
            weights = weighter.observe(x, y)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(weights).all() and weights.shape == (C, )
    counts = weighter.pop_warning_counts()
    assert counts['nonfinite_batches'] == 0


def _reference_scales(volumes, dist, present, alpha, interclass, rtol):
    """Float64 numpy, with boolean indexing and branches (the host-read
    form that the masked functions replace)."""
    v = np.asarray(volumes, dtype=np.float64)
    finite = np.isfinite(v)
    valid = finite & (v > 0) & (v > rtol * v[finite].max())
    scales = np.zeros_like(v)
    scales[valid] = v[valid] / v[valid].max()
    if not interclass:
        return scales
    w = np.where(present, dist, 0.0)
    w = w / w.max() if w.max() > 0 else np.zeros_like(w)
    return scales * np.log2(alpha + w)


def _reference_weights(scales, normalize, max_ratio, rtol):
    s = np.asarray(scales, dtype=np.float64)
    finite = np.isfinite(s)
    valid = finite & (s > 0) & (s > rtol * s[finite].max()) \
        if finite.any() else finite
    if valid.any():
        weights = np.empty_like(s)
        weights[valid] = 1.0 / s[valid]
        weights[~valid] = weights[valid].max()
    else:
        weights = np.ones_like(s)
    if max_ratio is not None:
        weights = np.minimum(weights, weights.min() * max_ratio)
    if normalize == 'mean':
        return weights * len(weights) / weights.sum()
    return weights / weights.sum()


def test_masked_scales_and_weights_equal_the_reference():
    gen = torch.Generator().manual_seed(3)
    volumes = torch.rand(C, generator=gen, dtype=torch.float64) * 50
    volumes[:3] = torch.tensor([0.0, 1e-12, -1e-10], dtype=torch.float64)
    dist = torch.rand(C, generator=gen, dtype=torch.float64) * 100
    present = torch.ones(C, dtype=torch.bool)
    present[1] = False
    for interclass in (True, False):
        got = scales_from_volumes(volumes, dist, present, 2.0, interclass)
        ref = _reference_scales(volumes.numpy(), dist.numpy(),
                                present.numpy(), 2.0, interclass, 1e-6)
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-14, atol=0)
        for norm, ratio in (('mean', None), ('sum', 5.0)):
            np.testing.assert_allclose(
                dsb_weights(got, norm, ratio).numpy(),
                _reference_weights(ref, norm, ratio, 1e-6),
                rtol=1e-14, atol=0)
    # No usable class at all: every weight is 1.
    none = torch.zeros(C, dtype=torch.float64)
    assert torch.equal(dsb_weights(none, 'mean'),
                       torch.ones(C, dtype=torch.float64))
