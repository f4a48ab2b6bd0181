"""The shell launchers: argument checks and the commands they run (stubbed)."""
import os
import stat

from tools_cli_utils import run_cli


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
