"""SegVisualizationHook: draws val samples every `interval` batches and every test sample."""
import os
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import torch
from mmengine.structures import PixelData

from fcn_mm.engine.hooks import SegVisualizationHook
from fcn_mm.structures import SegDataSample
from fcn_mm.visualization import SegLocalVisualizer


def _outputs(tmp_path, count=2):
    outputs = []
    for i in range(count):
        path = str(tmp_path / f'img_{i}.jpg')
        cv2.imwrite(path, np.full((16, 24, 3), 40 * i, np.uint8))
        sample = SegDataSample(metainfo=dict(img_path=path))
        sample.pred_sem_seg = PixelData(data=torch.ones((1, 16, 24), dtype=torch.int64))
        sample.gt_sem_seg = PixelData(data=torch.zeros((1, 16, 24), dtype=torch.int64))
        outputs.append(sample)
    return outputs


def _runner(tmp_path, it=0):
    return SimpleNamespace(iter=it, work_dir=str(tmp_path / 'work'), timestamp='20240101_000000')


def test_hook_draws_val_and_test_to_backend(tmp_path):
    SegLocalVisualizer.get_instance('hook_vis', vis_backends=[dict(type='LocalVisBackend')],
                                    save_dir=str(tmp_path / 'vis'), classes=('bg', 'fg'),
                                    palette=[[0, 0, 0], [0, 255, 0]])
    hook = SegVisualizationHook(draw=True, interval=2)
    outputs = _outputs(tmp_path)
    runner = _runner(tmp_path, it=10)
    for batch_idx in range(3):  # steps 10, 11, 12: the first and the third are drawn
        hook.after_val_iter(runner, batch_idx, {}, outputs)
    hook.after_test_iter(runner, 0, {}, outputs)
    saved = sorted(p for p in (tmp_path / 'vis' / 'vis_data' / 'vis_image').iterdir())
    assert [p.name for p in saved] == ['test_img_0.jpg_1.png', 'test_img_1.jpg_2.png',
                                       'val_img_0.jpg_10.png', 'val_img_0.jpg_12.png']
    assert cv2.imread(str(saved[0])).shape == (16, 72, 3)


def test_hook_test_out_dir_and_draw_off(tmp_path):
    SegLocalVisualizer.get_instance('hook_vis_2')
    runner = _runner(tmp_path)
    SegVisualizationHook(draw=False, test_out_dir='show').after_test_iter(
        runner, 0, {}, _outputs(tmp_path))
    assert not osp.exists(runner.work_dir)
    SegVisualizationHook(draw=True, test_out_dir='show').after_test_iter(
        runner, 0, {}, _outputs(tmp_path))
    out_dir = osp.join(runner.work_dir, runner.timestamp, 'show')
    assert sorted(os.listdir(out_dir)) == ['img_0.png', 'img_1.png']
