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

``--sweep`` measures cost as the work grows, in one run: inference of 256x256, 480x480,
512x1024 and 1024x2048 images in whole and slide mode, and training steps of batch 1, 2
and 4, with seconds per image and per megapixel, peak memory and the slide overhead;
``--plot`` draws time and memory against pixels, ``--markdown`` writes the table::

    python tools/analysis_tools/benchmark.py configs/fcn/fcn_r50-d8_480x480_voc.py \
        --sweep --amp --channels-last --out sweep.json --plot sweep.png --markdown sweep.md

``--backend onnxruntime`` times inference of PyTorch eager float32 (and bf16 with
``--amp``) beside ONNX Runtime in one run, with the same threads (ONNX Runtime's
intra_op_num_threads = the torch thread count), the same input and the same work
(preprocessing, network, resize, argmax), and prints each row's speed-up over PyTorch
float32. The ONNX files are ``--onnx FILE ...`` (float32 or int8 from
tools/deployment/quantize.py), else the model exported now at the benchmark shape;
``--int8`` also quantises it now (calibrated on ``--calib`` synthetic images)::

    python tools/analysis_tools/benchmark.py configs/fcn/fcn_r50-d8_480x480_voc.py \
        --backend onnxruntime --int8 --amp --threads 2

``--openvino`` adds OpenVINO rows of the same float32 file in the same run (float32,
bf16, and with ``--int8`` NNCF's int8 on the same calibration images); it needs the
optional ``pip install openvino nncf`` (see docs/deploy.md for the figures).
"""
import argparse
import json

from fcn_mm.analysis.benchmark import (BENCHMARK_BACKENDS, DEFAULT_PEAK_SIZES,
                                       DEFAULT_SWEEP_SHAPES, DEFAULT_SWEEP_TRAIN_BATCHES,
                                       format_backend_report, format_report, format_sweep,
                                       parse_shape, plot_sweep, run_backend_comparison,
                                       run_benchmark, run_sweep, sweep_markdown)
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
    parser.add_argument('--repeat', type=int,
                        help='timed steps per mode (default 5; 3 per point of --sweep)')
    parser.add_argument('--warmup', type=int,
                        help='untimed steps first (default 2; 1 per point of --sweep)')
    parser.add_argument('--amp', action='store_true', default=None,
                        help='autocast: on CPU bf16 where the probe measures it faster than '
                        'float32 (the header says), fp16 on CUDA')
    parser.add_argument('--channels-last', action='store_true', default=None,
                        help='NHWC weights and inputs')
    parser.add_argument('--compile', action='store_true', default=None,
                        help='torch.compile the backbone and heads (in place)')
    parser.add_argument('--device', help="'cpu' or 'cuda[:i]' (default: cuda if present)")
    parser.add_argument('--threads', type=int, help='torch threads (default: torch default)')
    parser.add_argument('--peak-sizes', type=int, nargs='*', default=list(DEFAULT_PEAK_SIZES),
                        help='square matmul sizes of the peak measurement (none: skip it)')
    parser.add_argument('--out', metavar='JSON', help='also write the results as JSON')
    sweep = parser.add_argument_group('sweep (cost against image size and batch)')
    sweep.add_argument('--sweep', action='store_true',
                       help='inference whole + slide over --sweep-shapes and training steps '
                       'over --sweep-train-batches (instead of --mode)')
    sweep.add_argument('--sweep-shapes', type=parse_shape, nargs='+', metavar='HxW',
                       default=list(DEFAULT_SWEEP_SHAPES),
                       help='inference image sizes (default: 256x256 480x480 512x1024 '
                       '1024x2048)')
    sweep.add_argument('--sweep-train-batches', type=int, nargs='*', metavar='N',
                       default=list(DEFAULT_SWEEP_TRAIN_BATCHES),
                       help='training batch sizes (default: 1 2 4; none: no training)')
    sweep.add_argument('--slide-crop', type=int, nargs=2, metavar=('H', 'W'),
                       help="slide window (default: the config's slide test_cfg, else "
                       'its crop size)')
    sweep.add_argument('--slide-stride', type=int, nargs=2, metavar=('H', 'W'),
                       help="slide step (default: the config's, else 2/3 of the window)")
    sweep.add_argument('--windows-per-forward', type=int, metavar='N',
                       help='slide windows per network forward (test_cfg key)')
    sweep.add_argument('--plot', metavar='PNG', help='draw time and memory against pixels')
    sweep.add_argument('--markdown', metavar='MD', help='write the table as Markdown')
    backend = parser.add_argument_group('backend (PyTorch beside ONNX Runtime, inference)')
    backend.add_argument('--backend', choices=BENCHMARK_BACKENDS, default='pytorch',
                         help='onnxruntime: time PyTorch eager fp32 (bf16 with --amp) and '
                         'ONNX Runtime fp32 (int8) inference in one run')
    backend.add_argument('--onnx', nargs='+', metavar='FILE', default=[],
                         help='exported .onnx files to time (float32 or int8; default: '
                         'export the model now at --shape)')
    backend.add_argument('--int8', action='store_true',
                         help='also quantise the float32 file to int8 now and time it')
    backend.add_argument('--openvino', action='store_true',
                         help='also time OpenVINO on the float32 file: float32, bf16 and, '
                         'with --int8, NNCF int8 on the same calibration images (needs '
                         'pip install openvino nncf)')
    backend.add_argument('--calib', type=int, default=2, metavar='N',
                         help='synthetic calibration images of --int8 (default 2; '
                         'the timing does not depend on them)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config keys, e.g. model.decode_head.num_classes=6')
    return parser.parse_args(argv)


def _sweep(args: argparse.Namespace) -> dict:
    report = run_sweep(
        args.config, args.checkpoint, shapes=args.sweep_shapes,
        train_batches=args.sweep_train_batches, train_shape=args.train_shape,
        slide_crop=args.slide_crop, slide_stride=args.slide_stride,
        windows_per_forward=args.windows_per_forward,
        warmup=1 if args.warmup is None else args.warmup,
        repeat=3 if args.repeat is None else args.repeat, amp=args.amp,
        channels_last=args.channels_last, compile=args.compile, device=args.device,
        threads=args.threads, cfg_options=args.cfg_options, peak_sizes=args.peak_sizes)
    print(format_sweep(report), flush=True)
    if args.plot:
        print(f'plot written to {plot_sweep(report, args.plot)}')
    if args.markdown:
        with open(args.markdown, 'w', encoding='utf-8') as f:
            f.write(sweep_markdown(report))
        print(f'Markdown table written to {args.markdown}')
    return report


def _backends(args: argparse.Namespace) -> dict:
    if args.sweep or args.mode == 'train' or args.compile:
        raise SystemExit('--backend onnxruntime times inference only: drop --sweep, '
                         '--mode train and --compile')
    if args.device not in (None, 'cpu'):
        raise SystemExit(f'--backend onnxruntime runs on the CPU, got --device {args.device}')
    report = run_backend_comparison(
        args.config, args.checkpoint, shape=args.shape, batch=args.batch,
        warmup=2 if args.warmup is None else args.warmup,
        repeat=5 if args.repeat is None else args.repeat, amp=bool(args.amp),
        channels_last=args.channels_last, threads=args.threads,
        cfg_options=args.cfg_options, onnx_files=args.onnx, int8=args.int8,
        calib=args.calib, peak_sizes=args.peak_sizes, openvino=args.openvino)
    print(format_backend_report(report), flush=True)
    return report


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.backend == 'pytorch' and (args.onnx or args.int8):
        raise SystemExit('--onnx and --int8 time ONNX Runtime: add --backend onnxruntime')
    if args.backend == 'pytorch' and args.openvino:
        raise SystemExit('--openvino adds rows to --backend onnxruntime: add it')
    if args.backend != 'pytorch':
        report = _backends(args)
    elif args.sweep:
        report = _sweep(args)
    else:
        if args.plot or args.markdown:
            raise SystemExit('--plot and --markdown draw a --sweep; add --sweep')
        modes = ('infer', 'train') if args.mode == 'both' else (args.mode,)
        report = run_benchmark(
            args.config, args.checkpoint, modes=modes, shape=args.shape,
            train_shape=args.train_shape, batch=args.batch, train_batch=args.train_batch,
            warmup=2 if args.warmup is None else args.warmup,
            repeat=5 if args.repeat is None else args.repeat, amp=args.amp,
            channels_last=args.channels_last, compile=args.compile, device=args.device,
            threads=args.threads, cfg_options=args.cfg_options,
            peak_sizes=args.peak_sizes)
        print(format_report(report), flush=True)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=2)
        print(f'results written to {args.out}')
    return report


if __name__ == '__main__':
    main()
