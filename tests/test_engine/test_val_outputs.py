"""ValLoop's additions: the validation loss on predictions and the per-class scalars."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

from fcn_mm.engine.val_outputs import PredictionLoss, per_class_scalars
from fcn_mm.structures import SegDataSample


def _sample(logits, label):
    sample = SegDataSample()
    sample.seg_logits = PixelData(data=logits)
    sample.gt_sem_seg = PixelData(data=label[None])
    return sample


def test_prediction_loss_is_the_decode_loss_per_image(tiny_model):
    gen = torch.Generator().manual_seed(0)
    num_classes = tiny_model.decode_head.num_classes
    shapes = [(9, 7), (5, 6)]
    samples, expected = [], []
    for h, w in shapes:
        logits = torch.randn(num_classes, h, w, generator=gen)
        label = torch.randint(0, num_classes, (h, w), generator=gen)
        label[0] = 255
        samples.append(_sample(logits, label))
        # MMSegmentation's averaging: ignored pixels count in the denominator
        per_pixel = F.cross_entropy(logits[None], label[None], ignore_index=255,
                                    reduction='none')
        expected.append(per_pixel.sum().item() / (h * w))
    sums = PredictionLoss(tiny_model).batch_sums(samples)
    assert set(sums) == {'decode.loss_ce'}
    total, count = sums['decode.loss_ce'].tolist()
    assert count == 2 and total == pytest.approx(sum(expected), rel=1e-6)


def test_prediction_loss_resizes_logits_to_the_label_and_needs_labels(tiny_model):
    loss = PredictionLoss(tiny_model)
    logits = torch.zeros(tiny_model.decode_head.num_classes, 4, 4)
    label = torch.zeros(8, 8, dtype=torch.long)
    (total, count), = loss.batch_sums([_sample(logits, label)]).values()
    assert count == 1 and total == pytest.approx(math.log(logits.shape[0]), rel=1e-6)
    bare = SegDataSample()
    bare.seg_logits = PixelData(data=logits)
    with pytest.raises(KeyError, match='load labels in the val pipeline'):
        loss.batch_sums([bare])
    with pytest.raises(TypeError, match='needs a segmentor with decode_head.loss_decode'):
        PredictionLoss(torch.nn.Conv2d(1, 1, 1))


def test_per_class_scalars_from_metrics_that_keep_them():
    class Kept:
        per_class_results = {'IoU': {'background': 90.5, 'cat': float('nan')},
                             'Acc': {'background': 99.0, 'cat': 0.0}}
    scalars = per_class_scalars([object(), Kept()])
    assert scalars['IoU.background'] == 90.5 and math.isnan(scalars['IoU.cat'])
    assert scalars['Acc.cat'] == 0.0 and len(scalars) == 4
