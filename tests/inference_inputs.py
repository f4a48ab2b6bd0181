"""Inputs of the inference tests (tests/test_apis, tests/test_demo; ``tests/`` is on
``sys.path`` through its conftest.py): a tiny FCN config without test-time resizing, a
checkpoint of its random weights, images of two sizes and a short video."""
import os.path as osp

import cv2
import numpy as np
import torch

TINY = osp.join(osp.dirname(osp.abspath(__file__)), 'configs', 'fcn_r18-tiny_32x32.py')
CONFIG = """_base_ = '{tiny}'
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
"""
IMAGE_SIZES = [(96, 128), (80, 112), (96, 128)]  # (H, W)
VIDEO_SIZE, VIDEO_FRAMES, VIDEO_FPS = (72, 96), 10, 5


def write_model(folder) -> tuple:
    """A config file and a checkpoint of random (seeded) weights; returns both paths."""
    from fcn_mm.models.builder import build_offline_model
    from fcn_mm.utils.config_check import load_config
    config = osp.join(str(folder), 'tiny_infer.py')
    with open(config, 'w') as f:
        f.write(CONFIG.format(tiny=TINY))
    torch.manual_seed(0)
    model = build_offline_model(load_config(config))
    with torch.no_grad():  # spread the classes' logits (a fresh head gives near ties)
        model.decode_head.conv_seg.weight.mul_(100)
        model.decode_head.conv_seg.bias.normal_(0, 1)
    checkpoint = osp.join(str(folder), 'tiny_random.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    return config, checkpoint


def write_images(folder) -> list:
    """Three noisy PNGs with a bright rectangle (two sizes) and one text file."""
    rng = np.random.default_rng(1)
    paths = []
    for i, (height, width) in enumerate(IMAGE_SIZES):
        image = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
        image[10:50, 20 + 10 * i:70 + 10 * i] = (40, 220, 200)
        paths.append(osp.join(str(folder), f'img_{i}.png'))
        cv2.imwrite(paths[-1], image)
    with open(osp.join(str(folder), 'notes.txt'), 'w') as f:
        f.write('not an image\n')
    return paths


def write_video(path) -> str:
    """A VIDEO_FRAMES-frame mp4 (OpenCV's mp4v) with a moving rectangle."""
    height, width = VIDEO_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), VIDEO_FPS,
                             (width, height))
    assert writer.isOpened()
    rng = np.random.default_rng(2)
    for i in range(VIDEO_FRAMES):
        frame = rng.integers(0, 50, (height, width, 3), dtype=np.uint8)
        frame[15:55, 5 + 6 * i:40 + 6 * i] = (60, 210, 90)
        writer.write(frame)
    writer.release()
    return str(path)


def read_video(path) -> list:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def assert_same_labels(labels: np.ndarray, result) -> None:
    """``labels`` equal ``result.pred_sem_seg`` except where its two best classes tie
    (batched and single-image convolutions may round differently)."""
    expected = result.pred_sem_seg.data[0].numpy()
    assert labels.shape == expected.shape
    logits = result.seg_logits.data.float()
    top2 = logits.topk(2, dim=0).values
    clear = (top2[0] - top2[1]).numpy() > 1e-4
    assert np.array_equal(labels[clear], expected[clear])
    assert clear.mean() > 0.99
