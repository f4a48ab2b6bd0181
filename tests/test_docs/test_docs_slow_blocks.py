"""The slow tier: the docs' ``<!-- skip: slow -->`` blocks really run, shortened.

These blocks make the published figures (benchmark.md, model_zoo.md) and take minutes to
hours as written, so the default run only parses them (test_docs_commands.py). Here each
runs for real with the substitutions of :data:`SHORTER` (fewer repeats and seeds, small
images, two training iterations, a small demo data set), in a scratch folder that has its
own copy of ``docs/`` (the model-zoo block rewrites ``docs/model_zoo.md``). A block that
needs another block's outputs (deploy.md: the trained checkpoint, then its ``.onnx``) gets
them from shortened prerequisite commands run first. This checks that the commands work and
write what the docs say, not the figures. The checkpoint name in the docs follows the demo
config's iteration count, so it is matched as ``iter_<N>.pth``.

Run with ``python -m pytest -m slow tests`` (deselected by default, see pytest.ini).
"""
import json
import os
import re
import shutil
import subprocess
import sys

import cv2
import pytest

from .docs_blocks import REPO, all_shell_blocks, commands, tool_invocation

pytestmark = pytest.mark.slow

DEMO_DATA = ('demo_data.num_train=8 demo_data.num_val=4 demo_data.image_size=64 '
             'train_dataloader.num_workers=0 train_dataloader.persistent_workers=False '
             'val_dataloader.num_workers=0 val_dataloader.persistent_workers=False '
             'test_dataloader.num_workers=0 test_dataloader.persistent_workers=False')
SHORT_DEMO_TRAIN = (f'--cfg-options train_cfg.max_iters=2 train_cfg.val_interval=2 '
                    f'default_hooks.checkpoint.interval=2 {DEMO_DATA}')
DEMO_CFG = 'configs/fcn/fcn_r18-d8_demo.py'
DEMO_DIR = 'work_dirs/fcn_r18-d8_demo'
# the docs name the demo checkpoint after the config's iteration count; the short run has 2
CHECKPOINT = re.compile(r'iter_\d+\.pth')
SHORT_CHECKPOINT = f'{DEMO_DIR}/iter_2.pth'
# prerequisites of the deploy.md blocks: the shortened demo training, then its export
TRAIN_DEMO = f'python tools/train.py {DEMO_CFG} {SHORT_DEMO_TRAIN}'
EXPORT_DEMO = (f'python tools/deployment/pytorch2onnx.py {DEMO_CFG} {SHORT_CHECKPOINT} '
               f'--out {DEMO_DIR}/fcn_r18-d8_demo.onnx --dynamic --with-argmax '
               f'--shape 64 64 --cfg-options {DEMO_DATA}')
# (doc file, a line of the block) -> (commands run first, [(text in the block: a string or a
#                                     compiled regular expression, shorter)],
#                                     files the block must have written)
SHORTER = {
    ('benchmark.md', 'bench_fp32.json'): (
        '', [('--repeat 5', '--repeat 1 --warmup 0 --shape 64 64 --train-shape 64 64 '
                            '--peak-sizes 128')],
        ['bench_fp32.json', 'bench_bf16.json']),
    ('benchmark.md', '--sweep'): (
        '', [('--sweep', '--sweep --sweep-shapes 64x64 --sweep-train-batches 1 '
                         '--train-shape 64 64 --slide-crop 48 48 --repeat 1 --warmup 0 '
                         '--peak-sizes 128'),
             ('--threads 2', '--threads 1')],
        ['sweep_r50.json', 'sweep_r50.md', 'docs/benchmark_sweep.png']),
    ('benchmark.md', 'compare_precision.py'): (
        TRAIN_DEMO, [(CHECKPOINT, f'iter_2.pth --cfg-options {DEMO_DATA}')], []),
    ('benchmark.md', 'compare_amp_training.py'): (
        '', [('--seeds 0 1 2 3 4', f'--seeds 0 --tolerance 100 {SHORT_DEMO_TRAIN}')],
        ['work_dirs/amp_check']),
    ('deploy.md', 'tools/train.py'): (
        '', [(DEMO_CFG, f'{DEMO_CFG} {SHORT_DEMO_TRAIN}')],
        [SHORT_CHECKPOINT, 'data/demo/JPEGImages/val_0000.jpg']),
    ('deploy.md', 'pytorch2onnx.py'): (
        TRAIN_DEMO, [(CHECKPOINT, 'iter_2.pth'),
                     ('--verify', f'--verify --shape 64 64 --cfg-options {DEMO_DATA}')],
        [f'{DEMO_DIR}/fcn_r18-d8_demo.onnx']),
    ('deploy.md', f'python tools/test.py {DEMO_CFG} {DEMO_DIR}/fcn_r18-d8_demo.onnx'): (
        f'{TRAIN_DEMO}\n{EXPORT_DEMO}',
        [(CHECKPOINT, f'iter_2.pth --cfg-options {DEMO_DATA}'),
         ('--backend onnxruntime', f'--backend onnxruntime --cfg-options {DEMO_DATA}')],
        []),
    ('deploy.md', 'demo/image_demo.py'): (
        f'{TRAIN_DEMO}\n{EXPORT_DEMO}', [], ['onnx_result.png']),
    ('deploy.md', 'quantize.py'): (
        TRAIN_DEMO,
        [(CHECKPOINT, 'iter_2.pth'), ('--calib 64', f'--calib 2 --cfg-options {DEMO_DATA}'),
         ('--backend onnxruntime', f'--backend onnxruntime --cfg-options {DEMO_DATA}')],
        [f'{DEMO_DIR}/fcn_r18-d8_demo_int8.onnx']),
    ('deploy.md', 'serve_load_test.py'): (
        '', [('--duration 30', '--duration 2 --warmup 2 --images 2 --size 64 64'),
             ('--threads 2', '--threads 1')],
        ['serve_load.json']),
    ('deploy.md', '--int8'): (
        '', [('--repeat 3 --warmup 1', '--repeat 1 --warmup 0 --shape 64 64 --peak-sizes 128'),
             ('--threads 2', '--threads 1')],
        []),
    ('fcn_family.md', 'fcn8s_vgg16-narrow_demo.py'): (
        '', [('configs/fcn/fcn8s_vgg16-narrow_demo.py',
              f'configs/fcn/fcn8s_vgg16-narrow_demo.py {SHORT_DEMO_TRAIN}')],
        ['work_dirs/fcn8s_vgg16-narrow_demo/iter_2.pth']),
    ('model_zoo.md', 'model_zoo_timings'): (
        '', [('--shape 480 480 --repeat 5', '--shape 64 64 --repeat 1 --warmup 0')],
        ['docs/model_zoo_timings/fcn_tv-mbv3l-d8_480x480_voc.json']),
}
# the slow blocks that run our tools (not the README's `pytest -m slow` line itself)
SLOW_BLOCKS = [b for b in all_shell_blocks() if b.skip and 'slow' in b.skip
               and any(tool_invocation(words) for words in commands(b.code))]


def _spec(block):
    found = [key for key in SHORTER if key[0] == block.path.name and key[1] in block.code]
    assert len(found) == 1, (f'{block.id}: a `skip: slow` block needs exactly one entry in '
                             f'SHORTER of {__file__} (found {found})')
    return SHORTER[found[0]]


def _shorten(block, substitutions):
    """The block's code with every (text or regular expression, shorter) substitution made."""
    code = block.code
    for old, new in substitutions:
        pattern = old if isinstance(old, re.Pattern) else re.compile(re.escape(old))
        assert pattern.search(code), (f'{block.id} no longer contains {pattern.pattern!r}: '
                                      f'update SHORTER')
        code = pattern.sub(lambda match: new, code)
    return code


def test_every_slow_block_has_a_shortened_run():
    assert len(SLOW_BLOCKS) == len(SHORTER), [b.id for b in SLOW_BLOCKS]
    for block in SLOW_BLOCKS:
        _spec(block)


@pytest.mark.timeout(1800)
@pytest.mark.parametrize('block', SLOW_BLOCKS, ids=lambda b: b.id)
def test_slow_block_runs_shortened(block, tmp_path):
    setup, substitutions, outputs = _spec(block)
    code = _shorten(block, substitutions)
    for name in ('configs', 'tools', 'demo', 'fcn_mm', 'setup.py'):
        os.symlink(REPO / name, tmp_path / name)
    shutil.copytree(REPO / 'docs', tmp_path / 'docs')
    env = dict(os.environ, OMP_NUM_THREADS='1', MPLBACKEND='Agg',
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    script = f'set -eu\n{setup}\n{code}'
    proc = subprocess.run(['bash', '-c', script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, (f'{block.id} failed ({proc.returncode}):\n{script}\n'
                                  f'--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n'
                                  f'{proc.stderr[-4000:]}')
    for output in outputs:
        assert (tmp_path / output).exists(), f'{block.id} did not write {output}'
    if 'bench_fp32.json' in outputs:
        report = json.loads((tmp_path / 'bench_fp32.json').read_text())
        assert set(report['results']) == {'infer', 'train'}, list(report['results'])
    if 'compare_precision.py' in block.code:
        assert 'mIoU' in proc.stdout, proc.stdout[-2000:]
    if 'model_table.py' in block.code:
        table = (tmp_path / 'docs' / 'model_zoo.md').read_text()
        assert table != (REPO / 'docs' / 'model_zoo.md').read_text(), 'table not rewritten'
    _check_deploy_and_training(block, proc.stdout, tmp_path)


def _check_deploy_and_training(block, stdout, tmp_path):
    """What the printed results of the sweep, training, export, test, int8 and demo blocks hold."""
    if '--sweep' in block.code:
        rows = json.loads((tmp_path / 'sweep_r50.json').read_text())['rows']
        assert [(r['kind'], r['batch']) for r in rows] == [
            ('whole', 1), ('slide', 1), ('train', 1)], rows
        assert rows[1]['windows'] == 4, rows[1]  # 48x48 windows every 32 px of a 64x64 image
        assert 'infer slide' in (tmp_path / 'sweep_r50.md').read_text()
    if 'tools/train.py' in block.code:  # validated at iteration 2
        assert re.search(r'Iter\(val\) \[4/4\] .*mIoU: [\d.]+', stdout), stdout[-2000:]
    if 'pytorch2onnx.py' in block.code:
        assert 'wrote work_dirs/fcn_r18-d8_demo/fcn_r18-d8_demo.onnx' in stdout, stdout[-2000:]
        assert re.search(r'^test image val_0000\.jpg .* ok$', stdout, re.M), stdout[-2000:]
    tests = sum(1 for words in commands(block.code)
                if (tool_invocation(words) or [None])[0] == REPO / 'tools/test.py')
    if tests:  # one metric summary line per tools/test.py run
        summaries = re.findall(r'^aAcc: [\d.]+, mIoU: [\d.]+, mAcc: [\d.]+$', stdout, re.M)
        assert len(summaries) == tests, stdout[-2000:]
    if 'quantize.py' in block.code:
        assert re.search(r'^wrote \S+_int8\.onnx .* int8 QDQ', stdout, re.M), stdout[-2000:]
        assert re.search(r'^int8 vs float32 labels on 2 calibration image\(s\): [\d.]+% of '
                         r'pixels equal$', stdout, re.M), stdout[-2000:]
    if '--backend onnxruntime --int8' in block.code:
        for backend, precision in [('pytorch', 'float32'), ('pytorch', 'bfloat16'),
                                   ('onnxruntime', 'float32'), ('onnxruntime', 'int8')]:
            assert re.search(rf'^\| {backend} +\| {precision} +\| .*\| 1 x 64x64 +\|', stdout,
                             re.M), f'no {backend} {precision} row:\n{stdout[-3000:]}'
    if 'demo/image_demo.py' in block.code:  # drawn as image | prediction
        image = cv2.imread(str(tmp_path / 'data/demo/JPEGImages/val_0000.jpg'))
        drawn = cv2.imread(str(tmp_path / 'onnx_result.png'))
        assert drawn.shape == (image.shape[0], 2 * image.shape[1], 3), drawn.shape
