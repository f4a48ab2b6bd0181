"""The binary path end to end: configs/fcn/fcn_r18-d8_demo-binary.py trained 2 iterations on
tiny demo shapes (foreground vs background), validated (IoUMetric on 2 classes), exported to
ONNX with the thresholded labels, and the ONNX labels equal fcn_mm's predictions."""
import os.path as osp

import numpy as np
import onnxruntime as ort
import torch

from fcn_mm.apis.training import build_runner, setup_train_config

CONFIG = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'fcn',
                  'fcn_r18-d8_demo-binary.py')


def test_binary_config_trains_tests_and_exports(tmp_path):
    from fcn_mm.deploy import export_onnx
    root = str(tmp_path / 'demo')
    options = {
        'demo_data.data_root': root, 'demo_data.num_train': 4, 'demo_data.num_val': 2,
        'demo_data.image_size': 32,
        'train_dataloader.dataset.data_root': root, 'val_dataloader.dataset.data_root': root,
        'test_dataloader.dataset.data_root': root, 'train_dataloader.batch_size': 2,
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.interval': 2, 'default_hooks.logger.interval': 1,
        'model.data_preprocessor.size': (32, 32), 'crop_size': (32, 32),
        'val_dataloader.dataset.pipeline.1.scale': (32, 32),
        'test_dataloader.dataset.pipeline.1.scale': (32, 32)}
    cfg = setup_train_config(CONFIG, cfg_options=options, work_dir=str(tmp_path / 'work'))
    runner = build_runner(cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner.train()   # validates at the end (val_interval = max_iters)
    finally:
        torch.set_num_threads(threads)
    assert runner.model.decode_head.out_channels == 1
    assert runner.val_evaluator.dataset_meta['classes'] == ('background', 'shape')
    logged = runner.message_hub.log_scalars
    assert {'train/decode.loss_ce', 'train/decode.loss_dice', 'val/mIoU'} <= set(logged), \
        sorted(logged)
    assert 0 <= logged['val/mIoU'].current() <= 100
    assert 0 < logged['val/aAcc'].current() <= 100

    model = runner.model.eval()
    images = torch.stack([torch.from_numpy(
        np.ascontiguousarray(_image(root, i))) for i in range(2)])
    path = str(tmp_path / 'binary.onnx')
    export_onnx(model, path, shape=(32, 32), batch_size=2, with_argmax=True)
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    logits, labels = session.run(None, {'img': images.float().numpy()})
    with torch.no_grad():
        samples = model.test_step(dict(inputs=list(images)))
    probs = torch.stack([s.seg_logits.data for s in samples]).numpy()
    expected = torch.stack([s.pred_sem_seg.data[0] for s in samples]).numpy()
    assert logits.shape == (2, 1, 32, 32) and labels.shape == (2, 32, 32)
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), probs, atol=1e-5)
    # the graph thresholds the sigmoid at decode_head.threshold (0.3), as predict does
    assert model.decode_head.threshold == 0.3
    np.testing.assert_array_equal(labels, (probs[:, 0] > 0.3).astype(labels.dtype))
    assert (labels == expected).mean() >= 0.999


def _image(root, index):
    import cv2
    image = cv2.imread(osp.join(root, 'JPEGImages', f'val_{index:04d}.jpg'))
    return image.transpose(2, 0, 1)
