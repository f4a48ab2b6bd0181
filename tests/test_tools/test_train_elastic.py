"""Elastic training: torchrun restarts the group after one of two workers is killed, and
the restarted workers resume by themselves from the newest complete checkpoint, exactly.

Two 2-worker jobs (gloo, CPU) of the tiny config run side by side through
``tools/dist_train.sh``: one uninterrupted, one whose rank 1 is SIGKILLed before iteration
3 on the first attempt (``KillRankAtIterHook``) with ``MAX_RESTARTS=1``. Both must end with
the same final weights.
"""
import os
import os.path as osp
import re
import subprocess
import sys

from fcn_mm.utils.safe_loading import load_checkpoint_file
from tools_cli_utils import REPO, free_port

MAX_ITERS, KILL_AT = 4, 3
HERE = osp.dirname(osp.abspath(__file__))
DERIVED = """
_base_ = '{base}'
custom_imports = dict(imports=['preemption_helpers'], allow_failed_imports=False)
custom_hooks = {hooks}
train_cfg = dict(max_iters={max_iters})
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end={max_iters},
                        by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=-1))
"""


def _launch(tmp_path, tiny_config, name: str, kill: bool) -> subprocess.Popen:
    hooks = (f"[dict(type='KillRankAtIterHook', rank=1, at_iter={KILL_AT})]" if kill
             else '[]')
    config = tmp_path / f'{name}.py'
    config.write_text(DERIVED.format(base=tiny_config, hooks=hooks, max_iters=MAX_ITERS))
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONUNBUFFERED='1',
               PYTHON=sys.executable, PORT=str(free_port()), MAX_RESTARTS='1',
               PYTHONPATH=os.pathsep.join([REPO, HERE, os.environ.get('PYTHONPATH', '')]))
    return subprocess.Popen(['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir',
                             str(tmp_path / name)], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen) -> str:
    try:
        output, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        raise AssertionError(f'the job did not end within 240 s:\n{output[-6000:]}')
    assert proc.returncode == 0, output[-8000:]
    return output


def test_a_killed_worker_is_restarted_and_the_job_resumes_exactly(tiny_config, tmp_path):
    straight = _launch(tmp_path, tiny_config, 'straight', kill=False)
    killed = _launch(tmp_path, tiny_config, 'killed', kill=True)
    straight_out, output = _finish(straight), _finish(killed)
    assert f'KILLING rank 1 before iteration {KILL_AT}' in output
    resumed_from = re.findall(r'TORCHELASTIC_RESTART_COUNT\): newest complete checkpoint '
                              r'in \S+: (\S+)', output)
    # both restarted workers took the checkpoint of an iteration before the kill
    assert len(resumed_from) == 2 and len(set(resumed_from)) == 1, output[-6000:]
    step = int(re.search(r'iter_(\d+)\.pth$', resumed_from[0]).group(1))
    assert 1 <= step < KILL_AT
    assert 'TORCHELASTIC_RESTART_COUNT' not in straight_out
    final = [load_checkpoint_file(osp.join(str(tmp_path), name, f'iter_{MAX_ITERS}.pth'))
             for name in ('straight', 'killed')]
    assert final[1]['meta']['iter'] == MAX_ITERS
    a, b = (f['state_dict'] for f in final)
    assert set(a) == set(b)
    assert max((a[k].double() - b[k].double()).abs().max().item() for k in a) <= 1e-6
