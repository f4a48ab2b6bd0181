"""The slow tier: the docs' ``<!-- skip: slow -->`` blocks really run, shortened.

These blocks make the published figures (benchmark.md, model_zoo.md) and take minutes to
hours as written, so the default run only parses them (test_docs_commands.py). Here each
runs for real with the substitutions of :data:`SHORTER` (fewer repeats and seeds, small
images, two training iterations, a small demo data set), in a scratch folder that has its
own copy of ``docs/`` (the model-zoo block rewrites ``docs/model_zoo.md``). This checks
that the commands work and write what the docs say, not the figures.

Run with ``python -m pytest -m slow tests`` (deselected by default, see pytest.ini).
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from .docs_blocks import REPO, all_shell_blocks, commands, tool_invocation

pytestmark = pytest.mark.slow

DEMO_DATA = ('demo_data.num_train=8 demo_data.num_val=4 demo_data.image_size=64 '
             'train_dataloader.num_workers=0 train_dataloader.persistent_workers=False '
             'val_dataloader.num_workers=0 val_dataloader.persistent_workers=False '
             'test_dataloader.num_workers=0 test_dataloader.persistent_workers=False')
SHORT_DEMO_TRAIN = (f'--cfg-options train_cfg.max_iters=2 train_cfg.val_interval=2 '
                    f'default_hooks.checkpoint.interval=2 {DEMO_DATA}')
# (doc file, a line of the block) -> (commands run first, [(text in the block, shorter)],
#                                     files the block must have written)
SHORTER = {
    ('benchmark.md', 'bench_fp32.json'): (
        '', [('--repeat 5', '--repeat 1 --warmup 0 --shape 64 64 --train-shape 64 64 '
                            '--peak-sizes 128')],
        ['bench_fp32.json', 'bench_bf16.json']),
    ('benchmark.md', 'compare_precision.py'): (
        f'python tools/train.py configs/fcn/fcn_r18-d8_demo.py {SHORT_DEMO_TRAIN}',
        [('iter_3500.pth', f'iter_2.pth --cfg-options {DEMO_DATA}')], []),
    ('benchmark.md', 'compare_amp_training.py'): (
        '', [('--seeds 0 1 2 3 4', f'--seeds 0 --tolerance 100 {SHORT_DEMO_TRAIN}')],
        ['work_dirs/amp_check']),
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


def test_every_slow_block_has_a_shortened_run():
    assert len(SLOW_BLOCKS) == len(SHORTER), [b.id for b in SLOW_BLOCKS]
    for block in SLOW_BLOCKS:
        _spec(block)


@pytest.mark.timeout(1800)
@pytest.mark.parametrize('block', SLOW_BLOCKS, ids=lambda b: b.id)
def test_slow_block_runs_shortened(block, tmp_path):
    setup, substitutions, outputs = _spec(block)
    code = block.code
    for old, new in substitutions:
        assert old in code, f'{block.id} no longer contains {old!r}: update SHORTER'
        code = code.replace(old, new)
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
