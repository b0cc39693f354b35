"""BN-Inception against the published layer list of the PyTorch port of
the Caffe model (Cadene's pretrained-models.pytorch, ``bninception``),
whose ImageNet checkpoint must load."""
import pytest
import torch
from mmpretrain.registry import MODELS

import mmdsb  # noqa: F401

# Every convolution of the port, in its order: (name, in, out, kernel).
# Each has a bias and is followed by `<name>_bn` (BatchNorm2d(out)).
PORT_CONVS = [
    ('conv1_7x7_s2', 3, 64, 7),
    ('conv2_3x3_reduce', 64, 64, 1),
    ('conv2_3x3', 64, 192, 3),
    ('inception_3a_1x1', 192, 64, 1),
    ('inception_3a_3x3_reduce', 192, 64, 1),
    ('inception_3a_3x3', 64, 64, 3),
    ('inception_3a_double_3x3_reduce', 192, 64, 1),
    ('inception_3a_double_3x3_1', 64, 96, 3),
    ('inception_3a_double_3x3_2', 96, 96, 3),
    ('inception_3a_pool_proj', 192, 32, 1),
    ('inception_3b_1x1', 256, 64, 1),
    ('inception_3b_3x3_reduce', 256, 64, 1),
    ('inception_3b_3x3', 64, 96, 3),
    ('inception_3b_double_3x3_reduce', 256, 64, 1),
    ('inception_3b_double_3x3_1', 64, 96, 3),
    ('inception_3b_double_3x3_2', 96, 96, 3),
    ('inception_3b_pool_proj', 256, 64, 1),
    ('inception_3c_3x3_reduce', 320, 128, 1),
    ('inception_3c_3x3', 128, 160, 3),
    ('inception_3c_double_3x3_reduce', 320, 64, 1),
    ('inception_3c_double_3x3_1', 64, 96, 3),
    ('inception_3c_double_3x3_2', 96, 96, 3),
    ('inception_4a_1x1', 576, 224, 1),
    ('inception_4a_3x3_reduce', 576, 64, 1),
    ('inception_4a_3x3', 64, 96, 3),
    ('inception_4a_double_3x3_reduce', 576, 96, 1),
    ('inception_4a_double_3x3_1', 96, 128, 3),
    ('inception_4a_double_3x3_2', 128, 128, 3),
    ('inception_4a_pool_proj', 576, 128, 1),
    ('inception_4b_1x1', 576, 192, 1),
    ('inception_4b_3x3_reduce', 576, 96, 1),
    ('inception_4b_3x3', 96, 128, 3),
    ('inception_4b_double_3x3_reduce', 576, 96, 1),
    ('inception_4b_double_3x3_1', 96, 128, 3),
    ('inception_4b_double_3x3_2', 128, 128, 3),
    ('inception_4b_pool_proj', 576, 128, 1),
    ('inception_4c_1x1', 576, 160, 1),
    ('inception_4c_3x3_reduce', 576, 128, 1),
    ('inception_4c_3x3', 128, 160, 3),
    ('inception_4c_double_3x3_reduce', 576, 128, 1),
    ('inception_4c_double_3x3_1', 128, 160, 3),
    ('inception_4c_double_3x3_2', 160, 160, 3),
    ('inception_4c_pool_proj', 576, 128, 1),
    ('inception_4d_1x1', 608, 96, 1),
    ('inception_4d_3x3_reduce', 608, 128, 1),
    ('inception_4d_3x3', 128, 192, 3),
    ('inception_4d_double_3x3_reduce', 608, 160, 1),
    ('inception_4d_double_3x3_1', 160, 192, 3),
    ('inception_4d_double_3x3_2', 192, 192, 3),
    ('inception_4d_pool_proj', 608, 128, 1),
    ('inception_4e_3x3_reduce', 608, 128, 1),
    ('inception_4e_3x3', 128, 192, 3),
    ('inception_4e_double_3x3_reduce', 608, 192, 1),
    ('inception_4e_double_3x3_1', 192, 256, 3),
    ('inception_4e_double_3x3_2', 256, 256, 3),
    ('inception_5a_1x1', 1056, 352, 1),
    ('inception_5a_3x3_reduce', 1056, 192, 1),
    ('inception_5a_3x3', 192, 320, 3),
    ('inception_5a_double_3x3_reduce', 1056, 160, 1),
    ('inception_5a_double_3x3_1', 160, 224, 3),
    ('inception_5a_double_3x3_2', 224, 224, 3),
    ('inception_5a_pool_proj', 1056, 128, 1),
    ('inception_5b_1x1', 1024, 352, 1),
    ('inception_5b_3x3_reduce', 1024, 192, 1),
    ('inception_5b_3x3', 192, 320, 3),
    ('inception_5b_double_3x3_reduce', 1024, 192, 1),
    ('inception_5b_double_3x3_1', 192, 224, 3),
    ('inception_5b_double_3x3_2', 224, 224, 3),
    ('inception_5b_pool_proj', 1024, 128, 1),
]


def port_state_dict(bn_shape=lambda c: (c, ), seed=0):
    """What the port's ImageNet checkpoint holds: every convolution and
    batch norm under the port's names, and its 1000-way `last_linear`."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name, cin, cout, k in PORT_CONVS:
        sd[f'{name}.weight'] = torch.randn(cout, cin, k, k, generator=g)
        sd[f'{name}.bias'] = torch.randn(cout, generator=g)
        for t in ('weight', 'bias', 'running_mean'):
            sd[f'{name}_bn.{t}'] = torch.randn(bn_shape(cout), generator=g)
        sd[f'{name}_bn.running_var'] = torch.rand(bn_shape(cout),
                                                  generator=g) + 0.5
    sd['last_linear.weight'] = torch.randn(1000, 1024, generator=g)
    sd['last_linear.bias'] = torch.randn(1000, generator=g)
    return sd


def build(**kwargs):
    return MODELS.build(dict(type='BNInception', **kwargs))


def test_output_is_the_last_1024_channel_map():
    model = build().eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 224, 224))
        small = model(torch.randn(1, 3, 64, 64))
    assert isinstance(out, tuple) and len(out) == 1
    assert out[0].shape == (2, 1024, 7, 7)
    assert small[0].shape == (1, 1024, 2, 2)
    assert (out[0] >= 0).all()  # after the ReLUs of inception_5b
    assert model.out_channels == 1024


def test_parameters_are_those_of_the_published_layers():
    model = build()
    convs = sum(cin * cout * k * k + cout for _, cin, cout, k in PORT_CONVS)
    bns = sum(2 * cout for _, _, cout, _ in PORT_CONVS)
    assert sum(p.numel() for p in model.parameters()) == convs + bns
    # The port with its classifier: 11,295,240 parameters.
    assert convs + bns + 1024 * 1000 + 1000 == 11295240
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()
              if not k.endswith('num_batches_tracked')}
    port = {k: tuple(v.shape) for k, v in port_state_dict().items()
            if not k.startswith('last_linear')}
    assert shapes == port


@pytest.mark.parametrize('bn_shape', [lambda c: (c, ), lambda c: (1, c)],
                         ids=['bn-1d', 'bn-1xC'])
def test_port_checkpoint_loads_through_init_cfg(bn_shape, tmp_path):
    sd = port_state_dict(bn_shape)
    path = tmp_path / 'bn_inception-52deb4733.pth'
    torch.save(sd, path)
    model = build(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    own = model.state_dict()
    for key, value in sd.items():
        if key.startswith('last_linear'):
            assert key not in own
        else:
            assert torch.equal(own[key], value.reshape(own[key].shape)), key


def test_norm_eval_freezes_the_running_statistics():
    model = build(norm_eval=True).train()
    assert model.training and not model.conv1_7x7_s2_bn.training
    before = model.inception_4a_1x1_bn.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    assert torch.equal(model.inception_4a_1x1_bn.running_mean, before)
    plain = build().train()
    plain(torch.randn(2, 3, 64, 64))
    assert not torch.equal(plain.inception_4a_1x1_bn.running_mean,
                           torch.zeros(224))


def test_bad_in_channels():
    with pytest.raises(ValueError, match='in_channels'):
        build(in_channels=0)
