"""demo/image_demo.py INPUT CONFIG CHECKPOINT --out-dir DIR on a folder of 3 images and
on a 10-frame video: the files written, their sizes and label values (against
inference_model on the same images and frames), and the overlays' colours."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from fcn_mm.apis import inference_model, init_model
from inference_inputs import (IMAGE_SIZES, VIDEO_FRAMES, VIDEO_SIZE, assert_same_labels,
                              read_video, write_images, write_model, write_video)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _demo(args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, 'demo/image_demo.py'] + args, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('inference_many')
    config, checkpoint = write_model(tmp)
    (tmp / 'images').mkdir()
    images = write_images(tmp / 'images')
    video = write_video(tmp / 'clip.mp4')
    model = init_model(config, checkpoint, device='cpu')
    return dict(tmp=tmp, config=config, checkpoint=checkpoint, images=images, video=video,
                model=model)


def _label_png(path) -> np.ndarray:
    png = Image.open(path)
    assert png.mode == 'P', path
    return np.array(png).astype(np.int64)


def test_a_folder_gives_a_label_png_and_an_overlay_per_image(setup):
    out = setup['tmp'] / 'out_images'
    stdout = _demo([str(setup['tmp'] / 'images'), setup['config'], setup['checkpoint'],
                    '--out-dir', str(out), '--batch-size', '3', '--opacity', '0.6',
                    '--no-legend', '--device', 'cpu'])
    assert '3/3' in stdout and 'wrote 3 label PNG(s)' in stdout  # the progress bar
    assert sorted(os.listdir(out / 'labels')) == ['img_0.png', 'img_1.png', 'img_2.png']
    assert sorted(os.listdir(out / 'overlays')) == ['img_0.png', 'img_1.png', 'img_2.png']
    model, palette = setup['model'], np.array(setup['model'].dataset_meta['palette'])
    values = set()
    for path, size in zip(setup['images'], IMAGE_SIZES):
        name = osp.basename(path)
        labels = _label_png(out / 'labels' / name)
        assert labels.shape == size
        assert_same_labels(labels, inference_model(model, path))
        values |= set(np.unique(labels).tolist())
        image = cv2.imread(path).astype(np.float64)  # BGR
        overlay = cv2.imread(str(out / 'overlays' / name))
        expected = np.round(image * 0.4 + palette[labels][..., ::-1] * 0.6)
        assert overlay.shape == image.shape
        assert np.abs(overlay - expected).max() <= 0.5 + 1e-9
    assert len(values) >= 2  # the label comparison is not over one constant class


def test_a_video_gives_a_label_png_per_frame_and_an_overlay_video(setup):
    out = setup['tmp'] / 'out_video'
    stdout = _demo([setup['video'], setup['config'], setup['checkpoint'], '--out-dir',
                    str(out), '--batch-size', '4', '--device', 'cpu'])
    assert f'{VIDEO_FRAMES}/{VIDEO_FRAMES}' in stdout
    names = sorted(os.listdir(out / 'labels' / 'clip'))
    assert names == [f'{i:06d}.png' for i in range(VIDEO_FRAMES)]
    frames = read_video(setup['video'])
    assert len(frames) == VIDEO_FRAMES
    values = set()
    for frame, name in zip(frames, names):
        labels = _label_png(out / 'labels' / 'clip' / name)
        assert labels.shape == VIDEO_SIZE
        assert_same_labels(labels, inference_model(setup['model'], frame))
        values |= set(np.unique(labels).tolist())
    assert len(values) >= 2
    drawn = read_video(out / 'overlays' / 'clip.mp4')
    assert len(drawn) == VIDEO_FRAMES and drawn[0].shape == VIDEO_SIZE + (3,)
    # the overlay differs from the frame (colours blended, a legend in the corner)
    assert np.abs(drawn[0].astype(int) - frames[0].astype(int)).mean() > 5


def _demo_module():
    spec = importlib.util.spec_from_file_location('_image_demo', osp.join(REPO, 'demo',
                                                                          'image_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('extra,message', [
    ([], 'without --out-dir INPUT must be one image file; for a folder, a glob pattern or '
         'a video add --out-dir DIR'),
    (['--out-dir', 'o', '--out-file', 'f.png'], 'give --out-file .* or --out-dir .*, not both'),
    (['--out-dir', 'o', '--batch-size', '0'], '--batch-size must be at least 1, got 0'),
])
def test_bad_arguments_are_refused_before_the_model_is_built(setup, monkeypatch, extra,
                                                             message):
    module = _demo_module()
    monkeypatch.setattr(module, 'init_model', lambda *a, **k: pytest.fail('model built'))
    monkeypatch.setattr(sys, 'argv', ['image_demo.py', setup['video'], setup['config'],
                                      setup['checkpoint']] + extra)
    with pytest.raises(ValueError, match=message):
        module.main()
