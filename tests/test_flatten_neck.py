"""FlattenNeck: pooled, flattened feature maps for VGG's classifier."""
import pytest
import torch
from mmpretrain.registry import MODELS

import mmdsb  # noqa: F401


def test_flatten_pools_blocks_then_flattens():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float64).reshape(2, 3, 4, 4)
    out, = MODELS.build(dict(type='FlattenNeck', output_size=(2, 2)))((x, ))
    # Each output value is the mean of one 2x2 block, channel-major order.
    blocks = x.reshape(2, 3, 2, 2, 2, 2).mean(dim=(3, 5))
    assert out.shape == (2, 12)
    assert torch.equal(out, blocks.reshape(2, 12))
    assert out[0, 0].item() == (0 + 1 + 4 + 5) / 4
    plain = MODELS.build(dict(type='FlattenNeck'))(x)
    assert torch.equal(plain, x.reshape(2, 48))


def test_flatten_rejects_vectors():
    with pytest.raises(ValueError, match=r'expects \(N, C, H, W\).*\(2, 5\)'):
        MODELS.build(dict(type='FlattenNeck'))(torch.zeros(2, 5))


def test_vgg16_keeps_its_classifier_and_dsb_sees_4096_features():
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='VGG', depth=16, norm_cfg=dict(type='BN')),
        neck=dict(type='FlattenNeck', output_size=(7, 7)),
        head=dict(type='DSBStackedLinearClsHead', num_classes=10,
                  in_channels=512 * 7 * 7, mid_channels=[4096, 4096],
                  dropout_rate=0.5)))
    model.eval()
    feats = model.extract_feat(torch.rand(2, 3, 64, 64))
    assert feats[-1].shape == (2, 25088)
    assert model.head.pre_logits(feats).shape == (2, 4096)
    assert model.head(feats).shape == (2, 10)
