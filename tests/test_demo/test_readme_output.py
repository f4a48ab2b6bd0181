"""What the README command prints: no warning, and a live progress line on a terminal.

``python tools/train.py configs/fcn/fcn_r18-d8_demo.py``, shortened with ``--cfg-options``
to 6 iterations on 8 generated images, once with its output piped (as in CI logs) and
once on a pseudo-terminal.
"""
import os
import os.path as osp
import pty
import re
import select
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
COMMAND = [sys.executable, 'tools/train.py', 'configs/fcn/fcn_r18-d8_demo.py']
LIVE_LINE = re.compile(r'iter (\d+)/6 \(\d+%\)  loss \d+\.\d{4}  [\d.]+ it/s  ETA \d+:\d\d:\d\d')


def _short_options(tmp_path) -> list:
    data_root = str(tmp_path / 'demo')
    options = [f'demo_data.data_root={data_root}', 'demo_data.num_train=8',
               'demo_data.num_val=2', 'train_cfg.max_iters=6',
               'train_dataloader.batch_size=2', 'default_hooks.logger.interval=2',
               # the 50-iteration warm-up, shortened with the run (as a user would)
               'param_scheduler.0.end=2', 'param_scheduler.1.begin=2']
    options += [f'{split}_dataloader.dataset.data_root={data_root}'
                for split in ('train', 'val', 'test')]
    return ['--work-dir', str(tmp_path / 'work'), '--cfg-options', *options]


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PYTHONWARNINGS', None)  # the warnings a user sees by default
    return env


def _run_on_pty(args: list, timeout: float = 300) -> str:
    """Run ``args`` with stdout and stderr on a pseudo-terminal; return what it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, cwd=REPO, env=_env(), stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.wait(timeout=30) == 0, b''.join(chunks).decode(errors='replace')[-4000:]
    return b''.join(chunks).decode(errors='replace')


def test_readme_command_prints_no_warning(tmp_path):
    proc = subprocess.run(COMMAND + _short_options(tmp_path), cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    warned = [line for line in output.splitlines() if re.search('warn', line, re.I)]
    assert not warned, '\n'.join(warned)
    # piped output: mmengine's interval logging as it is, no live line
    assert re.search(r'Iter\(train\) \[2/6\].*loss: ', output)
    assert re.search(r'Iter\(train\) \[6/6\].*loss: ', output)
    assert not LIVE_LINE.search(output) and '\r' not in output
    assert 'Generating the demo data into' in output and 'demo data: train 8/8' in output
    assert osp.isfile(tmp_path / 'work' / 'iter_6.pth')


def test_readme_command_shows_a_live_progress_line_on_a_terminal(tmp_path):
    output = _run_on_pty(COMMAND + _short_options(tmp_path))
    drawn = [int(m.group(1)) for m in LIVE_LINE.finditer(output)]
    assert drawn and drawn[0] == 1 and drawn[-1] == 6, drawn
    assert drawn == sorted(drawn)
    assert '\r\x1b[Kiter 6/6 (100%)' in output
    # log lines start on a cleared line, not after the progress text
    for line in output.split('\n'):
        if 'mmengine' in line and 'Iter(train)' in line:
            assert 'it/s  ETA' not in line.split('\x1b[K')[-1], line
    assert re.search(r'Iter\(train\) \[6/6\]', output)
