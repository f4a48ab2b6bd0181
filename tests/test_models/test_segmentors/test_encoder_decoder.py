"""EncoderDecoder: modes, loss keys, postprocessing, build-time channel checks."""
import pytest
import torch
import torch.nn.functional as F

from fcn_mm.registry import MODELS


def test_three_modes(tiny_fcn_cfg, make_sample):
    torch.manual_seed(0)
    model = MODELS.build(tiny_fcn_cfg(num_classes=3)).eval()
    x = torch.rand(2, 3, 33, 41)
    with torch.no_grad():
        assert model(x, mode='tensor').shape == (2, 3, 5, 6)
        preds = model(x, [make_sample(ori_shape=(33, 41), img_shape=(33, 41))] * 2,
                      mode='predict')
    assert preds[0].seg_logits.shape == (33, 41) and preds[0].seg_logits.data.shape[0] == 3
    assert preds[1].pred_sem_seg.data.shape == (1, 33, 41)
    torch.testing.assert_close(preds[0].pred_sem_seg.data,
                               preds[0].seg_logits.data.argmax(0, keepdim=True))
    labels = [make_sample(torch.randint(0, 3, (33, 41))) for _ in range(2)]
    losses = model.train()(x, labels, mode='loss')
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg', 'aux.loss_ce', 'aux.acc_seg'}
    with pytest.raises(ValueError, match="Invalid mode 'train'"):
        model(x, mode='train')


def test_auxiliary_head_list_and_none(tiny_fcn_cfg, make_sample):
    cfg = tiny_fcn_cfg(num_classes=3)
    aux = cfg['auxiliary_head']
    cfg['auxiliary_head'] = [aux, dict(aux, in_channels=8, in_index=1)]
    model = MODELS.build(cfg)
    x, samples = torch.rand(2, 3, 16, 16), [make_sample(torch.zeros(16, 16)) for _ in range(2)]
    assert {k for k in model(x, samples, mode='loss') if k.startswith('aux')} == {
        'aux_0.loss_ce', 'aux_0.acc_seg', 'aux_1.loss_ce', 'aux_1.acc_seg'}
    cfg['auxiliary_head'] = None
    model = MODELS.build(cfg)
    assert not model.with_auxiliary_head
    assert set(model(x, samples, mode='loss')) == {'decode.loss_ce', 'decode.acc_seg'}


def test_wrong_in_channels_fail_at_build_time(tiny_fcn_cfg):
    cfg = tiny_fcn_cfg()
    cfg['decode_head']['in_channels'] = 2048
    with pytest.raises(ValueError, match=r'model\.decode_head\.in_channels is 2048.*has 32 '
                                         r'channels.*in_channels=32'):
        MODELS.build(cfg)
    cfg = tiny_fcn_cfg()
    aux = cfg['auxiliary_head']
    cfg['auxiliary_head'] = [aux, dict(aux, in_channels=16, in_index=1)]
    with pytest.raises(ValueError, match=r'model\.auxiliary_head\[1\]\.in_channels is 16.*'
                                         r'in_channels=8'):
        MODELS.build(cfg)
    cfg = tiny_fcn_cfg()
    cfg['decode_head'].update(in_channels=[8, 32], in_index=[1, 3],
                              input_transform='resize_concat')
    MODELS.build(cfg)
    cfg['decode_head']['in_channels'] = [8, 16]
    with pytest.raises(ValueError, match=r'set model\.decode_head\.in_channels=\[8, 32\]'):
        MODELS.build(cfg)


def test_postprocess_crops_padding_unflips_and_resizes_to_ori_shape(tiny_fcn_cfg, make_sample):
    model = MODELS.build(tiny_fcn_cfg(num_classes=2))
    logits = torch.arange(2 * 10 * 12, dtype=torch.float32).reshape(1, 2, 10, 12)
    meta = dict(ori_shape=(16, 18), padding_size=(0, 3, 0, 2), flip=True,
                flip_direction='horizontal')
    out = model.postprocess_result(logits, [make_sample(**meta)])[0]
    expected = F.interpolate(logits[:, :, :8, :9].flip(3), size=(16, 18), mode='bilinear',
                             align_corners=False)[0]
    torch.testing.assert_close(out.seg_logits.data, expected)
    only = model.postprocess_result(logits)[0]
    torch.testing.assert_close(only.seg_logits.data, logits[0])



@pytest.mark.parametrize('align_corners', [False, True])
def test_postprocess_at_the_original_size_equals_a_same_size_resize(tiny_fcn_cfg, make_sample,
                                                                   align_corners):
    """The same-size resize is skipped: the result is what the resize would give."""
    model = MODELS.build(tiny_fcn_cfg(num_classes=3))
    model.align_corners = align_corners
    logits = torch.randn(2, 3, 9, 13)
    samples = [make_sample(ori_shape=(9, 13)), make_sample(ori_shape=(7, 13),
                                                           padding_size=(0, 0, 0, 2))]
    out = model.postprocess_result(logits, samples)
    for i, size in ((0, 9), (1, 7)):
        resized = F.interpolate(logits[i:i + 1, :, :size], size=(size, 13), mode='bilinear',
                                align_corners=align_corners)[0]
        assert torch.equal(out[i].seg_logits.data, resized)
        assert torch.equal(out[i].pred_sem_seg.data[0], resized.argmax(0))


def test_inference_in_training_mode_warns_once(tiny_fcn_cfg, recwarn):
    model = MODELS.build(tiny_fcn_cfg())  # a freshly built module is in training mode
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        with pytest.warns(UserWarning, match=r"forward\(mode='tensor'\) under torch.no_grad"
                          r"\(\) while the model is in training mode.*Call model.eval\(\)"):
            train_logits = model(x, mode='tensor')
        model(x, mode='tensor')
        model.eval()
        eval_logits = model(x, mode='tensor')
    assert not [w for w in recwarn if 'training mode' in str(w.message)]
    # the warning is about real differences: batch statistics instead of running ones
    assert not torch.allclose(train_logits, eval_logits)
    model.train()
    model(x, mode='tensor').sum().backward()  # training with gradients: no warning
    assert not [w for w in recwarn if 'training mode' in str(w.message)]

def test_pretrained_is_passed_to_the_backbone(tiny_fcn_cfg):
    cfg = tiny_fcn_cfg()
    cfg['pretrained'] = 'open-mmlab://resnet18_v1c'
    model = MODELS.build(cfg)
    assert model.backbone.init_cfg == dict(type='Pretrained',
                                           checkpoint='open-mmlab://resnet18_v1c')
    cfg['backbone']['pretrained'] = 'other.pth'
    with pytest.raises(ValueError, match='pretrained'):
        MODELS.build(cfg)


def test_bad_test_cfg_fails_at_build_time(tiny_fcn_cfg):
    with pytest.raises(ValueError, match='test_cfg.mode'):
        MODELS.build(tiny_fcn_cfg(test_cfg=dict(mode='sliding')))
    with pytest.raises(ValueError, match='test_cfg.crop_size'):
        MODELS.build(tiny_fcn_cfg(test_cfg=dict(mode='slide', stride=(8, 8))))
    with pytest.raises(ValueError, match='must not exceed'):
        MODELS.build(tiny_fcn_cfg(test_cfg=dict(mode='slide', crop_size=(8, 8),
                                                stride=(9, 8))))


def test_binary_sigmoid_head_trains_and_thresholds(tiny_fcn_cfg, make_sample):
    cfg = tiny_fcn_cfg(num_classes=2)
    for key in ('decode_head', 'auxiliary_head'):
        cfg[key].update(out_channels=1, threshold=0.5,
                        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True))
    model = MODELS.build(cfg)
    x = torch.rand(2, 3, 16, 16)
    labels = [make_sample(torch.randint(0, 2, (16, 16))) for _ in range(2)]
    losses = model(x, labels, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    with torch.no_grad():
        out = model.eval()(x, [make_sample(ori_shape=(16, 16), img_shape=(16, 16))] * 2,
                           mode='predict')[0]
    probs = out.seg_logits.data
    assert probs.shape == (1, 16, 16) and 0 <= probs.min() and probs.max() <= 1
    torch.testing.assert_close(out.pred_sem_seg.data, (probs > 0.5).float())


def test_head_errors_name_the_head_config_path(tiny_fcn_cfg):
    cfg = tiny_fcn_cfg()
    cfg['auxiliary_head']['num_convs'] = -1
    with pytest.raises(ValueError, match=r'^model\.auxiliary_head\.num_convs must be an int '
                                         r'>= 0, got -1$'):
        MODELS.build(cfg)
    cfg = tiny_fcn_cfg()
    aux = cfg['auxiliary_head']
    cfg['auxiliary_head'] = [aux, dict(aux, input_transform='resize_concat')]
    with pytest.raises(TypeError, match=r"^with input_transform='resize_concat', "
                                        r'model\.auxiliary_head\[1\]\.in_channels and '
                                        r'in_index must be lists') as info:
        MODELS.build(cfg)
    assert 'decode_head' not in str(info.value)
    assert 'decode_head.in_channels' in str(info.value.__cause__)  # the head's own text
    cfg = tiny_fcn_cfg()
    cfg['decode_head']['kernel_size'] = 2
    with pytest.raises(ValueError, match=r'^model\.decode_head\.kernel_size must be a '
                                         r'positive odd int, got 2$'):
        MODELS.build(cfg)


def test_head_warnings_name_the_head_config_path(tiny_fcn_cfg):
    cfg = tiny_fcn_cfg(num_classes=2)
    cfg['auxiliary_head'] = [cfg['auxiliary_head'],
                             dict(cfg['auxiliary_head'], out_channels=1)]
    with pytest.warns(UserWarning) as record:
        MODELS.build(cfg)
    messages = [str(w.message) for w in record]
    assert 'model.auxiliary_head[1].threshold is not set for a binary head; using 0.3' \
        in messages, messages
    assert not any('decode_head.threshold' in m and 'model.' not in m for m in messages)
