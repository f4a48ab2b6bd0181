"""Train a segmentor: ``python tools/train.py CONFIG [options]``.

Config contract (MMSegmentation 1.x keys): ``model``, ``train_dataloader``,
``train_cfg``, ``optim_wrapper``, ``param_scheduler``, ``default_hooks``,
``default_scope='fcn_mm'``; optional ``val_dataloader``/``val_cfg``/``val_evaluator``,
``work_dir``, ``load_from``, ``resume``, ``env_cfg``, ``runner_type`` and
``demo_data`` (generate the demo data set first).

Options:
    --work-dir DIR        where logs and checkpoints go (CLI > config > ./work_dirs/<stem>)
    --resume [CKPT]       resume from CKPT, or from the newest checkpoint in the work dir
    --amp                 mixed precision: on CPU bf16 where a cached probe measures it faster
                          than float32 (else float32, with one log line saying why); on CUDA
                          fp16 + loss scaling
    --auto-scale-lr       scale the LR to the total batch (auto_scale_lr.base_batch_size)
    --cfg-options k=v     override config entries, e.g. train_cfg.max_iters=100
    --launcher L          none | pytorch (torchrun) | slurm | mpi

SIGTERM or SIGUSR1 (e.g. from slurm before the time limit) stops training after the
current iteration (under gradient accumulation: at the end of its window) with a
checkpoint; the exit status is then 75 (EX_TEMPFAIL) and ``--resume`` continues exactly
(``fcn_mm.engine.hooks.PreemptionHook``). A worker that torchrun restarted in elastic mode
(``TORCHELASTIC_RESTART_COUNT`` > 0, ``tools/dist_train.sh`` with ``MAX_RESTARTS``)
resumes from the newest complete checkpoint in the work dir without ``--resume``.

SyncBN becomes BN (with a warning) unless training runs distributed on CUDA; on a
machine without CUDA, distributed training uses gloo (see
``fcn_mm.apis.distributed``).
"""
import argparse
import os
import sys

from fcn_mm.apis.distributed import LAUNCHERS, teardown_distributed
from fcn_mm.apis.preemption import train_exit_code
from fcn_mm.apis.speed import apply_speed_to_runner
from fcn_mm.apis.training import AUTO_RESUME, build_runner, log_run_info, setup_train_config
from fcn_mm.utils.cfg_options import CfgOptionsAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor (fcn_mm)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--resume', nargs='?', const=AUTO_RESUME, default=None, metavar='CKPT',
        help='resume from CKPT; without CKPT, from the newest checkpoint in the '
        'work dir')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: on CPU bf16 where a short cached probe measures '
                        'it faster than float32, else float32 (logged); fp16 on CUDA')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the LR by the total batch (processes x batch_size x '
        'accumulative_counts) over the config\'s auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override settings in the config, key=value pairs, e.g. '
        'model.decode_head.num_classes=21 or a.b.0.c=1 for list entries')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher')
    # torch.distributed.launch passes --local-rank (older versions --local_rank)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=None)
    args = parser.parse_args()
    if args.local_rank is not None and 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    cfg = setup_train_config(
        args.config, cfg_options=args.cfg_options, work_dir=args.work_dir,
        resume=args.resume, amp=args.amp, launcher=args.launcher,
        local_rank=args.local_rank, auto_scale_lr=args.auto_scale_lr)
    runner = build_runner(cfg)
    log_run_info(runner)
    apply_speed_to_runner(runner, cfg, training=True)
    runner.train()
    teardown_distributed()
    sys.exit(train_exit_code(runner))


if __name__ == '__main__':
    main()
