"""Post-training static int8 quantisation of a checkpoint for CPU inference (ONNX Runtime).

``python tools/deployment/quantize.py CONFIG CHECKPOINT --calib N --out FILE.onnx [options]``

Exports the whole-image inference path (as tools/deployment/pytorch2onnx.py does, or
takes that file with ``--onnx``), calibrates the activation ranges on N images of the
config's training set after its test pipeline (a ConcatDataset, as in the VOC configs:
images from every part, in proportion to their sizes), and writes an int8 graph with the same
input, outputs and metadata (plus ``precision: int8``). Evaluate it like any export:
``python tools/test.py CONFIG FILE.onnx --backend onnxruntime``. See docs/deploy.md.

Options:
    --calib N             calibration images (evenly spaced over the split)
    --out FILE            the int8 .onnx file to write
    --onnx FILE           quantise this float32 export instead of exporting CHECKPOINT
    --shape H W           export size (default: the config's crop size); --dynamic
    --calib-split S       train (default) | val | test
    --calib-pipeline P    test (default: what inference sees) | train
    --quant-format F      QDQ (default) | QOperator
    --calibrate-method M  MinMax (default) | Entropy | Percentile
    --no-per-channel      one scale per weight tensor instead of per output channel
    --reduce-range        7-bit weights (CPUs without VNNI)
    --score-layers M ...  module names of the score layers kept float32 (default:
                          decode_head.conv_seg / score_fr / score_pool4 / score_pool3)
    --cfg-options k=v     override config entries
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Optional

import torch

from fcn_mm.apis import init_model
from fcn_mm.apis.training import prepare_data
from fcn_mm.deploy import (CALIB_PIPELINES, CALIB_SPLITS, CALIBRATE_METHODS,
                           QUANT_FORMATS, SCORE_LAYERS, ExportError,
                           ImageCalibrationReader, QuantizeSettings, calibration_set,
                           create_session, export_onnx, onnx_label_agreement,
                           quantize_onnx)
from fcn_mm.utils.cfg_options import CfgOptionsAction

# images of the agreement check printed at the end (the first calibration images)
_CHECK_IMAGES = 4


def positive_int(text: str) -> int:
    """argparse type of --calib: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'--calib takes a positive number of images, got {text!r}') from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f'--calib takes a positive number of images, got {value}')
    return value


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Quantise a fcn_mm segmentor to int8 for CPU inference (ONNX Runtime)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--calib', type=positive_int, required=True, metavar='N',
                        help='number of calibration images (from --calib-split)')
    parser.add_argument('--out', required=True, help='the int8 .onnx file to write')
    parser.add_argument('--onnx', metavar='FILE',
                        help='a float32 export of CHECKPOINT to quantise (default: '
                        'export it now)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='export size (default: the crop size of the config)')
    parser.add_argument('--dynamic', action='store_true', help='dynamic N, H and W')
    parser.add_argument('--calib-split', choices=CALIB_SPLITS, default='train',
                        help='the data set split to calibrate on (default: train)')
    parser.add_argument('--calib-pipeline', choices=CALIB_PIPELINES, default='test',
                        help="the config's pipeline the images go through (default: test)")
    parser.add_argument('--quant-format', choices=QUANT_FORMATS, default='QDQ')
    parser.add_argument('--calibrate-method', choices=CALIBRATE_METHODS, default='MinMax')
    parser.add_argument('--no-per-channel', action='store_true',
                        help='one weight scale per tensor (default: per output channel)')
    parser.add_argument('--reduce-range', action='store_true',
                        help='7-bit weights, for CPUs without VNNI')
    parser.add_argument('--score-layers', nargs='+', default=list(SCORE_LAYERS),
                        metavar='MODULE',
                        help='module names (relative to the segmentor) of the score '
                        'layers, kept float32 with everything computed from them '
                        f'(default: {" ".join(SCORE_LAYERS)})')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config entries, key=value pairs')
    return parser.parse_args(argv)


def _export_shape(cfg, shape) -> tuple:
    if shape:
        return tuple(shape)
    size = (cfg.model.get('data_preprocessor') or {}).get('size') or (512, 512)
    return int(size[0]), int(size[1])


def main(argv=None) -> Optional[int]:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint}: no such file')
    if not args.out.endswith('.onnx'):
        raise ValueError(f'--out must name a .onnx file, got {args.out!r}')
    if args.onnx and not osp.isfile(args.onnx):
        raise FileNotFoundError(f'--onnx {args.onnx}: no such file')
    model = init_model(args.config, args.checkpoint, device='cpu',
                       cfg_options=args.cfg_options)
    prepare_data(model.cfg)
    start = time.perf_counter()
    calib = calibration_set(model.cfg, args.calib, args.calib_split, args.calib_pipeline)
    images = calib.images
    parts = ''
    if len(calib.part_sizes) > 1:
        parts = ' (ConcatDataset: ' + ', '.join(
            f'{n} of {size} from part {i}'
            for i, (n, size) in enumerate(zip(calib.per_part, calib.part_sizes))) + ')'
    print(f'calibration: {len(images)} images of the {args.calib_split} split{parts} '
          f'through the {args.calib_pipeline} pipeline, sizes '
          f'{sorted({tuple(i.shape[1:]) for i in images})}')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    settings = QuantizeSettings(quant_format=args.quant_format,
                                per_channel=not args.no_per_channel,
                                reduce_range=args.reduce_range,
                                calibrate_method=args.calibrate_method,
                                score_layers=tuple(args.score_layers))
    with tempfile.TemporaryDirectory(prefix='fcn_mm_quantize_') as tmp:
        fp32_file = args.onnx
        if fp32_file is None:
            fp32_file = osp.join(tmp, 'float32.onnx')
            try:
                export_onnx(model, fp32_file, shape=_export_shape(model.cfg, args.shape),
                            dynamic=args.dynamic, config_name=osp.basename(args.config))
            except ExportError as error:
                print(f'error: {error}', file=sys.stderr)
                return 1
        input_shape = create_session(fp32_file).get_inputs()[0].shape
        reader = ImageCalibrationReader(images, input_shape)
        try:
            result = quantize_onnx(fp32_file, args.out, reader, settings, extra_metadata=dict(
                calib_split=args.calib_split, calib_pipeline=args.calib_pipeline,
                calib_part_sizes=calib.part_sizes, calib_per_part=calib.per_part,
                config=osp.basename(args.config)))
        except ValueError as error:  # no score layer in the graph, no weight quantised
            print(f'error: {error}', file=sys.stderr)
            return 1
        check = [reader.prepare(img)[0] for img in images[:_CHECK_IMAGES]]
        agreement = onnx_label_agreement(fp32_file, args.out,
                                         [torch.from_numpy(c) for c in check])
        fp32_mb = osp.getsize(fp32_file) / 2**20
    ops = ', '.join(f'{k} {v}' for k, v in sorted(result.op_counts.items()))
    print(f'wrote {args.out} ({osp.getsize(args.out) / 2**20:.1f} MiB; float32 '
          f'{fp32_mb:.1f} MiB) in {time.perf_counter() - start:.0f} s: int8 '
          f'{settings.quant_format}, per-channel {settings.per_channel}, '
          f'{settings.calibrate_method}; {result.num_quantized_weights} weights '
          f'quantised; {len(result.float_nodes)} nodes kept float32 (score layers: '
          f'{", ".join(result.score_layers)} and what follows them); ops: {ops}')
    print(f'int8 vs float32 labels on {len(check)} calibration image(s): '
          f'{100 * agreement:.2f}% of pixels equal')
    return 0


if __name__ == '__main__':
    sys.exit(main())
