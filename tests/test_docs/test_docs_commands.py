"""Every fenced shell block in README.md and docs/ runs, so the docs cannot rot.

Blocks tagged ``<!-- skip: voc|gpu|multinode|slurm|install|network|slow -->`` need what CI lacks
(Pascal VOC, a GPU, several machines, a slurm cluster, a pip install into the running environment,
the network, or minutes of CPU that other tests already spend); their commands that call our tools must still
parse with the tool's argument parser. Untagged blocks run in order, in one scratch folder for
all docs that links ``configs``, ``tools``, ``demo`` and ``docs`` of the repo (so a block may use
what an earlier block of the same page wrote); training is cut to two iterations by appending
``--cfg-options`` (mmengine's DictAction merges repeated flags), everything else runs as written,
under ``set -eu``.
"""
import importlib.util
import os
import subprocess
import sys

import pytest

from .docs_blocks import REPO, all_shell_blocks, commands, tool_invocation

BLOCKS = all_shell_blocks()
RUN_BLOCKS = [b for b in BLOCKS if b.skip is None]
SKIPPED_BLOCKS = [b for b in BLOCKS if b.skip is not None]
KNOWN_TAGS = {'voc', 'gpu', 'multinode', 'slurm', 'install', 'network', 'slow'}
SHORT_TRAIN = ('--cfg-options train_cfg.max_iters=2 train_cfg.val_interval=2 '
               'default_hooks.checkpoint.interval=2 default_hooks.logger.interval=1')


def test_docs_have_shell_blocks():
    assert len(BLOCKS) >= 10, [b.id for b in BLOCKS]
    assert RUN_BLOCKS, 'no runnable docs block found'


@pytest.mark.parametrize('block', SKIPPED_BLOCKS, ids=lambda b: b.id)
def test_skipped_block_parses(block):
    tags = {t.strip() for t in block.skip.replace('|', ',').split(',')}
    assert tags <= KNOWN_TAGS, f'{block.id}: unknown skip tag(s) {tags - KNOWN_TAGS}'
    for words in commands(block.code):
        found = tool_invocation(words)
        if found is None:
            continue
        script, argv = found
        assert script.is_file(), f'{block.id}: {script} does not exist'
        spec = importlib.util.spec_from_file_location(f'_doc_{script.stem}', script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        saved_argv = sys.argv
        sys.argv = [str(script)] + list(argv)
        try:
            module.parse_args()
        except SystemExit as e:
            pytest.fail(f'{block.id}: {script.name} rejects {argv} (exit {e.code})')
        finally:
            sys.argv = saved_argv


def _shorten(code: str) -> str:
    lines = []
    for line in code.replace('\\\n', ' ').splitlines():
        if ('tools/train.py' in line or 'tools/dist_train.sh' in line) \
                and not line.lstrip().startswith('#'):
            line = f'{line} {SHORT_TRAIN}'
        lines.append(line)
    return '\n'.join(lines)


@pytest.fixture(scope='module')
def docs_workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp('docs_ws')
    for name in ('configs', 'tools', 'demo', 'docs', 'setup.py', 'fcn_mm'):
        os.symlink(REPO / name, root / name)
    return root


@pytest.mark.timeout(600)
@pytest.mark.parametrize('block', RUN_BLOCKS, ids=lambda b: b.id)
def test_docs_block_runs(block, docs_workspace):
    for words in commands(block.code):  # it would replace the environment under test
        if 'pip' in words and 'install' in words:
            pytest.fail(f'{block.id} runs `{" ".join(words)}`: tag it <!-- skip: install -->')
    env = dict(os.environ, OMP_NUM_THREADS='1', MPLBACKEND='Agg',
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    # no pipefail: a pipeline's status is its last command's, as in the reader's shell
    # (``cmd 2>&1 | grep MESSAGE`` checks that a failing command says MESSAGE)
    script = 'set -eu\n' + _shorten(block.code)
    proc = subprocess.run(['bash', '-c', script], cwd=docs_workspace, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f'{block.id} failed ({proc.returncode}):\n{block.code}\n--- stdout\n'
        f'{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}')
