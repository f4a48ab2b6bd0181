"""The README's demo command, shortened: tools/train.py on the demo config, then image_demo."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join('configs', 'fcn', 'fcn_r18-d8_demo.py')


def _run(args, cwd=REPO):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('demo_train')
    data_root, work_dir = str(tmp / 'data'), str(tmp / 'work')
    loader = dict(num_workers=0, persistent_workers=False)
    options = [f'demo_data.data_root={data_root}', 'demo_data.num_train=6',
               'demo_data.num_val=2', 'demo_data.image_size=64',
               'train_cfg.max_iters=3', 'train_cfg.val_interval=3',
               'default_hooks.checkpoint.interval=3', 'default_hooks.logger.interval=1',
               'train_dataloader.batch_size=2']
    for split in ('train', 'val', 'test'):
        options.append(f'{split}_dataloader.dataset.data_root={data_root}')
        if split != 'test':
            options += [f'{split}_dataloader.{k}={v}' for k, v in loader.items()]
    _run(['tools/train.py', DEMO_CONFIG, '--work-dir', work_dir, '--cfg-options'] + options)
    return data_root, work_dir


def test_short_demo_training_generates_data_validates_and_saves(trained):
    data_root, work_dir = trained
    assert osp.isfile(osp.join(data_root, 'demo_data.json'))
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert scalars
    with open(scalars[0]) as f:
        records = [json.loads(line) for line in f if line.strip()]
    assert any('mIoU' in r for r in records)
    assert [r['iter'] for r in records if 'decode.loss_ce' in r] == [1, 2, 3]


def test_image_demo_writes_two_panels(trained, tmp_path):
    data_root, work_dir = trained
    img = osp.join(data_root, 'JPEGImages', 'val_0000.jpg')
    out = str(tmp_path / 'out.png')
    _run(['demo/image_demo.py', img, DEMO_CONFIG, osp.join(work_dir, 'iter_3.pth'),
          '--device', 'cpu', '--out-file', out, '--with-labels'])
    assert cv2.imread(out).shape == (64, 128, 3)
