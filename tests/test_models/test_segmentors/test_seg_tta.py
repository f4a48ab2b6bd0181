"""SegTTAModel: views are merged by averaging probabilities after the flip is undone."""
import torch

from fcn_mm.registry import MODELS


def _pointwise_segmentor():
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type='_TestTTABackbone'),
        decode_head=dict(type='FCNHead', in_channels=4, channels=4, num_convs=0,
                         concat_input=False, in_index=0, num_classes=4, dropout_ratio=0)))


@MODELS.register_module(name='_TestTTABackbone', force=True)
class _Pointwise(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 1)
        self.out_channels = (4,)

    def forward(self, x):
        return (self.conv(x),)


def test_flip_views_merge_to_the_unflipped_prediction(make_sample):
    tta = MODELS.build(dict(type='SegTTAModel', module=_pointwise_segmentor())).eval()
    img = torch.rand(3, 6, 9) * 255
    meta = dict(ori_shape=(6, 9), img_shape=(6, 9), img_path='a.jpg')
    views = dict(inputs=[[img], [img.flip(2)]],
                 data_samples=[[make_sample(torch.zeros(6, 9), **meta)],
                               [make_sample(flip=True, flip_direction='horizontal', **meta)]])
    with torch.no_grad():
        merged = tta.test_step(views)[0]
        plain = tta.module.test_step(dict(inputs=[img], data_samples=[make_sample(**meta)]))[0]
    torch.testing.assert_close(merged.seg_logits.data, plain.seg_logits.data.softmax(0))
    torch.testing.assert_close(merged.pred_sem_seg.data, plain.pred_sem_seg.data)
    assert merged.pred_sem_seg.data.shape == (1, 6, 9)
    assert merged.img_path == 'a.jpg' and 'gt_sem_seg' in merged


def test_merge_averages_softmax_of_the_views(make_sample):
    from mmengine.structures import PixelData
    tta = MODELS.build(dict(type='SegTTAModel', module=_pointwise_segmentor()))
    logits = [torch.randn(4, 3, 5) for _ in range(3)]
    views = []
    for lg in logits:
        sample = make_sample(ori_shape=(3, 5))
        sample.seg_logits = PixelData(data=lg)
        views.append(sample)
    merged = tta.merge_preds([views])[0]
    mean = torch.stack([lg.softmax(0) for lg in logits]).mean(0)
    torch.testing.assert_close(merged.seg_logits.data, mean)
    torch.testing.assert_close(merged.pred_sem_seg.data, mean.argmax(0, keepdim=True))
