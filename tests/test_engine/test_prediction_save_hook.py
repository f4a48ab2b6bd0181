"""SegPredictionSaveHook (tools/test.py --out) writes the same PNGs as IoUMetric(format_only)."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from PIL import Image

from fcn_mm.engine.hooks import SegPredictionSaveHook
from fcn_mm.evaluation import IoUMetric
from fcn_mm.structures import SegDataSample


def test_prediction_save_hook_writes_the_predicted_indices(tmp_path):
    rng = np.random.default_rng(0)
    samples = []
    for name in ('a.jpg', 'dir/b.jpeg'):
        sample = SegDataSample(metainfo=dict(img_path=f'/data/{name}'))
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(
            rng.integers(0, 21, (1, 5, 7))))
        samples.append(sample)
    hook = SegPredictionSaveHook(out_dir=str(tmp_path / 'out'),
                                 palette=[[10, 20, 30]] * 21)

    class _Runner:
        test_dataloader = None
    hook.before_test(_Runner())
    hook.after_test_iter(_Runner(), 0, outputs=samples)
    for stem, sample in zip(('a', 'b'), samples):
        image = Image.open(tmp_path / 'out' / f'{stem}.png')
        assert image.mode == 'P' and image.getpalette()[:3] == [10, 20, 30]
        np.testing.assert_array_equal(np.array(image), sample.pred_sem_seg.data[0].numpy())
    with pytest.raises(ValueError, match='out_dir'):
        SegPredictionSaveHook(out_dir='')


class _Runner:
    test_dataloader = None


def _sample(name, pred, reduce_zero_label):
    sample = SegDataSample(metainfo=dict(img_path=f'/data/{name}.jpg',
                                         reduce_zero_label=reduce_zero_label))
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
    return sample


@pytest.mark.parametrize('reduce_zero_label', [False, True])
def test_hook_and_metric_write_the_same_label_values(tmp_path, reduce_zero_label):
    """With reduce_zero_label both write pred + 1 (the dataset's label values), else pred."""
    pred = np.random.default_rng(1).integers(0, 6, (9, 11))
    palette = [[i, 2 * i, 3 * i] for i in range(6)]
    hook = SegPredictionSaveHook(out_dir=str(tmp_path / 'hook'), palette=palette)
    hook.before_test(_Runner())
    hook.after_test_iter(_Runner(), 0, outputs=[_sample('x', pred, reduce_zero_label)])
    metric = IoUMetric(format_only=True, output_dir=str(tmp_path / 'metric'))
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(6)], palette=palette)
    metric.process({}, [_sample('x', pred, reduce_zero_label).to_dict()])
    expected = pred + 1 if reduce_zero_label else pred
    for folder in ('hook', 'metric'):
        image = Image.open(tmp_path / folder / 'x.png')
        assert image.mode == 'P' and image.getpalette()[3:6] == [1, 2, 3]
        np.testing.assert_array_equal(np.asarray(image), expected)


def test_hook_refuses_indices_an_8bit_png_cannot_hold(tmp_path):
    hook = SegPredictionSaveHook(out_dir=str(tmp_path))
    hook.before_test(_Runner())
    with pytest.raises(ValueError, match=r'big\.png: class indices must be in 0\.\.255'):
        hook.after_test_iter(_Runner(), 0, outputs=[
            _sample('big', np.full((2, 2), 255), reduce_zero_label=True)])
