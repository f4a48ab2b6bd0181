"""SegLocalVisualizer: panels side by side, palette colours blended with alpha."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from fcn_mm.structures import SegDataSample
from fcn_mm.visualization import SegLocalVisualizer

CLASSES = ('background', 'a', 'b')
PALETTE = [[0, 0, 0], [255, 0, 0], [0, 0, 255]]


def _sample(h=20, w=30, gt=True, pred=True):
    sample = SegDataSample()
    labels = torch.zeros((1, h, w), dtype=torch.int64)
    labels[:, :, w // 2:] = 1
    labels[:, :5, :5] = 255  # ignored pixels keep the image colour
    if gt:
        sample.gt_sem_seg = PixelData(data=labels)
    if pred:
        sample.pred_sem_seg = PixelData(data=torch.full((1, h, w), 2))
    return sample


def _visualizer(name, alpha=0.5, **kwargs):
    return SegLocalVisualizer(name=name, classes=CLASSES, palette=PALETTE, alpha=alpha,
                              **kwargs)


def test_three_panels_written_to_out_file(tmp_path):
    image = np.full((20, 30, 3), 100, np.uint8)
    out = tmp_path / 'vis.png'
    _visualizer('three').add_datasample('x', image, _sample(), out_file=str(out),
                                        with_labels=False)
    drawn = cv2.imread(str(out))[..., ::-1]  # back to RGB
    assert drawn.shape == (20, 90, 3)
    np.testing.assert_array_equal(drawn[:, :30], image)
    # gt panel: class 1 (red) blended at alpha 0.5, background black blended, 255 kept
    np.testing.assert_array_equal(drawn[10, 30 + 20], [178, 50, 50])
    np.testing.assert_array_equal(drawn[10, 30 + 10], [50, 50, 50])
    np.testing.assert_array_equal(drawn[2, 30 + 2], [100, 100, 100])
    # pred panel: class 2 (blue) everywhere
    np.testing.assert_array_equal(drawn[10, 60 + 3], [50, 50, 178])


def test_panels_follow_flags_and_fields():
    image = np.zeros((20, 30, 3), np.uint8)
    vis = _visualizer('flags')
    vis.add_datasample('x', image, _sample(gt=False))
    assert vis.get_image().shape == (20, 60, 3)
    vis.add_datasample('x', image, _sample(), draw_gt=False, draw_pred=False)
    assert vis.get_image().shape == (20, 30, 3)


def test_class_names_change_the_drawing():
    image = np.full((60, 80, 3), 100, np.uint8)
    vis = _visualizer('labels')
    vis.add_datasample('x', image, _sample(60, 80), with_labels=False)
    plain = vis.get_image().copy()
    vis.add_datasample('x', image, _sample(60, 80), with_labels=True)
    assert (vis.get_image() != plain).any()


def test_backend_receives_image(tmp_path):
    vis = _visualizer('backend', vis_backends=[dict(type='LocalVisBackend')],
                      save_dir=str(tmp_path))
    vis.add_datasample('val_img.jpg', np.zeros((20, 30, 3), np.uint8), _sample(), step=7)
    saved = tmp_path / 'vis_data' / 'vis_image' / 'val_img.jpg_7.png'
    assert cv2.imread(str(saved)).shape == (20, 90, 3)


def test_mismatched_label_size_and_bad_alpha_raise():
    vis = _visualizer('bad')
    with pytest.raises(ValueError, match='does not match the image'):
        vis.add_datasample('x', np.zeros((10, 10, 3), np.uint8), _sample())
    with pytest.raises(ValueError, match='alpha'):
        SegLocalVisualizer(name='bad_alpha', alpha=1.5)
