"""The shell launchers: argument checks and the commands they run (stubbed)."""
import os
import stat

from tools_cli_utils import REPO, run_cli


def _stub(folder, name: str) -> None:
    """An executable that prints its name and arguments, one per line."""
    path = folder / name
    path.write_text('#!/bin/sh\necho "' + name + '"\nfor a in "$@"; do echo "$a"; done\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_scripts_print_usage_without_enough_arguments():
    import subprocess
    for script, needed in (('dist_train.sh', 2), ('dist_test.sh', 3),
                           ('slurm_train.sh', 3)):
        proc = subprocess.run(['bash', f'tools/{script}'] + ['x'] * (needed - 1),
                              capture_output=True, text=True, cwd=os.path.dirname(
                                  os.path.dirname(os.path.dirname(__file__))))
        assert proc.returncode == 2 and 'usage:' in proc.stderr


def test_dist_train_runs_torchrun_with_the_node_settings(tmp_path):
    _stub(tmp_path, 'fakepython')
    proc = run_cli(['bash', 'tools/dist_train.sh', 'cfg.py', '4', '--amp'], python=False,
                   extra_env=dict(PYTHON=str(tmp_path / 'fakepython'), NNODES='2',
                                  NODE_RANK='1', PORT='29999', MASTER_ADDR='10.1.2.3'))
    args = proc.stdout.split('\n')
    assert args[1:3] == ['-m', 'torch.distributed.run']
    for expected in ('--nnodes=2', '--node_rank=1', '--master_addr=10.1.2.3',
                     '--master_port=29999', '--nproc_per_node=4'):
        assert expected in args
    tail = args[args.index('--nproc_per_node=4') + 1:]
    assert tail[0].endswith('tools/train.py')
    assert tail[1:5] == ['cfg.py', '--launcher', 'pytorch', '--amp']


def test_dist_train_has_torchrun_pass_on_the_stop_signals(tmp_path):
    stub = tmp_path / 'envpython'
    stub.write_text('#!/bin/sh\necho "$TORCHELASTIC_SIGNALS_TO_HANDLE"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    proc = run_cli(['bash', 'tools/dist_train.sh', 'cfg.py', '2'], python=False,
                   extra_env=dict(PYTHON=str(stub)))
    assert set(proc.stdout.strip().split(',')) >= {'SIGTERM', 'SIGUSR1'}


def test_slurm_train_runs_srun_with_the_work_dir_and_slurm_launcher(tmp_path):
    _stub(tmp_path, 'srun')
    proc = run_cli(['bash', 'tools/slurm_train.sh', 'gpu', 'job1', 'cfg.py', 'wd',
                    '--amp'], python=False,
                   extra_env=dict(PATH=f'{tmp_path}:{os.environ["PATH"]}', GPUS='16',
                                  PYTHON='python3'))
    args = proc.stdout.split('\n')
    assert args[0] == 'srun' and args[1:3] == ['-p', 'gpu']
    assert '--job-name=job1' in args and '--ntasks=16' in args
    tail = args[args.index('python3') + 1:]
    assert tail[0] == '-u' and tail[1].endswith('tools/train.py')
    assert tail[2:8] == ['cfg.py', '--work-dir', 'wd', '--launcher', 'slurm', '--amp']


def _srun_stub(folder, codes) -> None:
    """An ``srun`` that logs its arguments (one call per line) and exits with the next of
    ``codes``; a ``scontrol`` that logs its arguments."""
    (folder / 'codes').write_text('\n'.join(str(c) for c in codes) + '\n')
    for name, body in (
            ('srun', 'echo "$*" >> "$STUB_DIR/srun.log"\n'
                     'code=$(head -n 1 "$STUB_DIR/codes")\n'
                     'sed -i 1d "$STUB_DIR/codes"\nexit "$code"\n'),
            ('scontrol', 'echo "$*" >> "$STUB_DIR/scontrol.log"\n')):
        path = folder / name
        path.write_text('#!/bin/sh\n' + body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _slurm_train(tmp_path, codes, **env):
    import subprocess
    _srun_stub(tmp_path, codes)
    full_env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}',
                    STUB_DIR=str(tmp_path), **env)
    proc = subprocess.run(['bash', 'tools/slurm_train.sh', 'gpu', 'job', 'cfg.py', 'wd'],
                          cwd=REPO, env=full_env, capture_output=True, text=True,
                          timeout=60)
    calls = (tmp_path / 'srun.log').read_text().splitlines()
    return proc, calls


def test_slurm_train_asks_for_the_signal_and_resubmits_with_resume_after_75(tmp_path):
    proc, calls = _slurm_train(tmp_path, [75, 0])
    assert proc.returncode == 0, proc.stderr
    assert len(calls) == 2 and '--signal=USR1@120' in calls[0].split()
    assert not calls[0].endswith('--resume') and calls[1].endswith('--launcher slurm --resume')
    assert 'resubmission 1 of 3 with --resume' in proc.stderr


def test_slurm_train_stops_resubmitting_and_passes_other_codes_through(tmp_path):
    proc, calls = _slurm_train(tmp_path, [75, 75], RESUBMITS='1')
    assert proc.returncode == 75 and len(calls) == 2
    assert '1 resubmission(s) done; continue with --resume' in proc.stderr
    (tmp_path / 'other').mkdir()
    proc, calls = _slurm_train(tmp_path / 'other', [3], SIGNAL='')
    assert proc.returncode == 3 and len(calls) == 1 and '--signal' not in calls[0]


def test_slurm_train_requeues_a_batch_job_which_then_resumes(tmp_path):
    proc, calls = _slurm_train(tmp_path, [75], REQUEUE='1', SLURM_JOB_ID='42')
    assert proc.returncode == 0 and len(calls) == 1
    assert (tmp_path / 'scontrol.log').read_text().split() == ['requeue', '42']
    (tmp_path / 'again').mkdir()  # the requeued job runs the script again
    proc, calls = _slurm_train(tmp_path / 'again', [0], REQUEUE='1', SLURM_JOB_ID='42',
                               SLURM_RESTART_COUNT='1')
    assert proc.returncode == 0 and len(calls) == 1 and calls[0].endswith('--resume')


def test_slurm_train_passes_a_signal_on_to_srun(tmp_path):
    import signal
    import subprocess
    import time
    srun = tmp_path / 'srun'
    srun.write_text('#!/bin/sh\ntrap \'echo got-usr1 >> "$STUB_DIR/srun.log"; exit 75\' USR1\n'
                    'echo started >> "$STUB_DIR/srun.log"\n'
                    'while true; do sleep 0.05; done\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}', STUB_DIR=str(tmp_path),
               RESUBMITS='0')
    proc = subprocess.Popen(['bash', 'tools/slurm_train.sh', 'gpu', 'job', 'cfg.py'],
                            cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    log = tmp_path / 'srun.log'
    deadline = time.monotonic() + 30
    while not (log.exists() and 'started' in log.read_text()):
        assert time.monotonic() < deadline and proc.poll() is None, 'srun stub did not start'
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR1)  # e.g. sbatch --signal=B:USR1@120
    assert proc.wait(timeout=30) == 75
    assert log.read_text().split() == ['started', 'got-usr1']


def test_dist_train_elastic_form_uses_c10d_rendezvous_and_restarts(tmp_path):
    stub = tmp_path / 'envpython'
    stub.write_text('#!/bin/sh\necho "store=$TORCH_DISABLE_SHARE_RDZV_TCP_STORE"\n'
                    'for a in "$@"; do echo "$a"; done\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    proc = run_cli(['bash', 'tools/dist_train.sh', 'cfg.py', '4'], python=False,
                   extra_env=dict(PYTHON=str(stub), NNODES='1:3', PORT='29999',
                                  MASTER_ADDR='10.1.2.3', RDZV_ID='job7'))
    args = proc.stdout.split('\n')
    for expected in ('--nnodes=1:3', '--max-restarts=3', '--rdzv-backend=c10d',
                     '--rdzv-endpoint=10.1.2.3:29999', '--rdzv-id=job7',
                     '--nproc_per_node=4'):
        assert expected in args
    # a fresh worker store per round: otherwise restarted gloo workers read stale addresses
    assert args[0] == 'store=1'
    assert not [a for a in args if a.startswith(('--node_rank', '--master_port'))]
    proc = run_cli(['bash', 'tools/dist_train.sh', 'cfg.py', '2'], python=False,
                   extra_env=dict(PYTHON=str(stub), MAX_RESTARTS='1'))
    assert '--max-restarts=1' in proc.stdout.split('\n') and '--nnodes=1' in proc.stdout


def test_dist_train_refuses_a_bad_restart_count():
    import subprocess
    proc = subprocess.run(['bash', 'tools/dist_train.sh', 'cfg.py', '2'], cwd=REPO,
                          env=dict(os.environ, MAX_RESTARTS='many'), capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "MAX_RESTARTS must be a number" in proc.stderr
