"""The VGG16 FCN-8s demo config, shortened: tools/train.py generates the data, trains,
validates and saves; the checkpoint then tests with tools/test.py."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join('configs', 'fcn', 'fcn8s_vgg16-narrow_demo.py')


def _run(args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_short_vgg_demo_training_validates_saves_and_tests(tmp_path):
    data_root, work_dir = str(tmp_path / 'data'), str(tmp_path / 'work')
    options = [f'demo_data.data_root={data_root}', 'demo_data.num_train=6',
               'demo_data.num_val=2', 'demo_data.image_size=48']
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.dataset.data_root={data_root}',
                    f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    train = options + ['train_cfg.max_iters=3', 'train_cfg.val_interval=3',
                       'default_hooks.checkpoint.interval=3', 'default_hooks.logger.interval=1',
                       'train_dataloader.batch_size=2']
    _run(['tools/train.py', DEMO_CONFIG, '--work-dir', work_dir, '--cfg-options'] + train)
    assert osp.isfile(osp.join(data_root, 'demo_data.json'))
    checkpoint = osp.join(work_dir, 'iter_3.pth')
    assert osp.isfile(checkpoint)
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars[0]) as f:
        records = [json.loads(line) for line in f if line.strip()]
    assert [r['iter'] for r in records if 'decode.loss_ce' in r] == [1, 2, 3]
    assert not any('aux.loss_ce' in r for r in records)
    assert any('mIoU' in r for r in records)
    output = _run(['tools/test.py', DEMO_CONFIG, checkpoint, '--work-dir',
                   str(tmp_path / 'test'), '--cfg-options'] + options)
    assert re.search(r'Metrics written to \S+\.json', output)
    assert 'circle' in output and 'star' in output
