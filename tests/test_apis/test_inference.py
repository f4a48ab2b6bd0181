"""init_model / inference_model / show_result_pyplot on the demo config (random weights)."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

from fcn_mm.apis import inference_model, init_model, show_result_pyplot

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(REPO, 'configs', 'fcn', 'fcn_r18-d8_demo.py')
DEMO_CLASSES = ('background', 'circle', 'square', 'triangle', 'ring', 'star')


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(DEMO_CONFIG, device='cpu')


@pytest.fixture
def image_file(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    path = str(tmp_path / 'img.png')  # lossless, so the array and the file agree
    cv2.imwrite(path, image)
    return path, image


def test_init_model_eval_mode_and_meta_from_config(model):
    assert not model.training
    assert model.dataset_meta['classes'] == DEMO_CLASSES
    assert len(model.dataset_meta['palette']) == 6
    assert model.cfg.model.decode_head.num_classes == 6


def test_checkpoint_weights_and_meta_are_loaded(model, tmp_path):
    ckpt = str(tmp_path / 'ckpt.pth')
    state = {k: v + 1 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    meta = dict(dataset_meta=dict(classes=tuple('abcdef'), palette=[[i, i, i] for i in range(6)]))
    torch.save(dict(meta=meta, state_dict=state), ckpt)
    loaded = init_model(Config.fromfile(DEMO_CONFIG), ckpt)
    assert loaded.dataset_meta['classes'] == tuple('abcdef')
    torch.testing.assert_close(loaded.state_dict()['decode_head.conv_seg.weight'],
                               state['decode_head.conv_seg.weight'])


def test_syncbn_config_becomes_bn():
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.backbone.norm_cfg = dict(type='SyncBN', requires_grad=True)
    with pytest.warns(UserWarning, match=r'model\.backbone\.norm_cfg\.type'):
        built = init_model(cfg)
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in built.modules())
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'  # the caller's config is kept


def test_inference_path_array_and_list_give_image_sized_labels(model, image_file):
    path, image = image_file
    from_path = inference_model(model, path)
    from_array = inference_model(model, image)
    assert from_path.pred_sem_seg.data.shape == (1, 50, 70)
    assert from_path.seg_logits.data.shape == (6, 50, 70)
    torch.testing.assert_close(from_path.seg_logits.data, from_array.seg_logits.data)
    other = np.zeros((33, 41, 3), np.uint8)
    results = inference_model(model, [path, other])
    assert [r.pred_sem_seg.data.shape for r in results] == [(1, 50, 70), (1, 33, 41)]
    torch.testing.assert_close(results[0].seg_logits.data, from_path.seg_logits.data)


def test_inference_bad_inputs_raise(model, tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        inference_model(model, str(tmp_path / 'missing.jpg'))
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        inference_model(model, np.zeros((10, 10), np.uint8))
    with pytest.raises(TypeError, match='file path or an np.ndarray'):
        inference_model(model, 3)
    with pytest.raises(TypeError, match='config must be'):
        init_model(dict(model=dict()))


def test_show_result_pyplot_draws_panels(model, image_file, tmp_path):
    path, image = image_file
    result = inference_model(model, path)
    out = str(tmp_path / 'out.png')
    drawn = show_result_pyplot(model, path, result, show=False, out_file=out)
    assert drawn.shape == (50, 140, 3) and cv2.imread(out).shape == (50, 140, 3)
    np.testing.assert_array_equal(drawn[:, :70], image[..., ::-1])  # RGB image panel
    result.gt_sem_seg = PixelData(data=torch.zeros((1, 50, 70), dtype=torch.int64))
    drawn = show_result_pyplot(model, image, result, show=False, out_file=out)
    assert drawn.shape == (50, 210, 3)
