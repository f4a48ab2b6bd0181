"""Speed of a segmentor: whole-image inference and one training step, vs. the matmul peak.

Example (FCN R50-D8, 480x480, fp32 then bf16 + channels_last on CPU)::

    python tools/analysis_tools/benchmark.py configs/fcn/fcn_r50-d8_480x480_voc.py \
        --mode both --train-batch 2 --repeat 5 --out bench_fp32.json
    python tools/analysis_tools/benchmark.py configs/fcn/fcn_r50-d8_480x480_voc.py \
        --mode both --train-batch 2 --amp --channels-last --out bench_bf16.json

Each mode runs in its own process (peak memory = its ``ru_maxrss`` on CPU, CUDA's
``max_memory_allocated`` on GPU). The FLOPs of exactly the measured step are counted
once (2 per multiply-add; the auxiliary head is part of the training step), and the
dense matmul peak of the same dtype and thread count is measured in the same run,
so each GFLOP/s figure is also a fraction of the machine's limit. SyncBN becomes BN
and no pretrained weights are fetched. See docs/benchmark.md.
"""
import argparse
import json

from fcn_mm.analysis.benchmark import DEFAULT_PEAK_SIZES, format_report, run_benchmark
from fcn_mm.utils.cfg_options import CfgOptionsAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark a segmentor (fcn_mm)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint to load (optional; timings do not depend on it)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='inference image size (default: the config crop size)')
    parser.add_argument('--train-shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='training crop size (default: the config crop size)')
    parser.add_argument('--batch', type=int, default=1, help='images per step')
    parser.add_argument('--train-batch', type=int,
                        help='images per training step (default: --batch)')
    parser.add_argument('--mode', choices=['infer', 'train', 'both'], default='both')
    parser.add_argument('--repeat', type=int, default=5, help='timed steps per mode')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    parser.add_argument('--amp', action='store_true', default=None,
                        help='autocast: bf16 on CPU (native bf16 needed), fp16 on CUDA')
    parser.add_argument('--channels-last', action='store_true', default=None,
                        help='NHWC weights and inputs')
    parser.add_argument('--compile', action='store_true', default=None,
                        help='torch.compile the backbone and heads (in place)')
    parser.add_argument('--device', help="'cpu' or 'cuda[:i]' (default: cuda if present)")
    parser.add_argument('--threads', type=int, help='torch threads (default: torch default)')
    parser.add_argument('--peak-sizes', type=int, nargs='*', default=list(DEFAULT_PEAK_SIZES),
                        help='square matmul sizes of the peak measurement (none: skip it)')
    parser.add_argument('--out', metavar='JSON', help='also write the results as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config keys, e.g. model.decode_head.num_classes=6')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    modes = ('infer', 'train') if args.mode == 'both' else (args.mode,)
    report = run_benchmark(
        args.config, args.checkpoint, modes=modes, shape=args.shape,
        train_shape=args.train_shape, batch=args.batch, train_batch=args.train_batch,
        warmup=args.warmup, repeat=args.repeat, amp=args.amp,
        channels_last=args.channels_last, compile=args.compile, device=args.device,
        threads=args.threads, cfg_options=args.cfg_options, peak_sizes=args.peak_sizes)
    print(format_report(report), flush=True)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=2)
        print(f'results written to {args.out}')
    return report


if __name__ == '__main__':
    main()
