"""Export a checkpoint's whole-image inference path to ONNX (and check it with ONNX Runtime).

``python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT --out FILE.onnx [options]``

The graph takes ``img``, float32 (N, 3, H, W) raw pixels 0..255 in the pipeline's
channel order (BGR), and returns ``seg_logits`` (N, C, H, W) at the input size, plus
``labels`` (N, H, W) with ``--with-argmax``; colour conversion and mean/std are
inside. See docs/deploy.md.

Options:
    --out FILE          the .onnx file to write
    --shape H W         input size: the static shape, or the example size with
                        --dynamic (default: the config's crop size, else 512 512)
    --dynamic           dynamic N, H and W
    --opset N           ONNX opset (default 18)
    --with-argmax       add the ``labels`` output
    --verify            run the file with ONNX Runtime on a test image and random
                        inputs; print the largest logit difference and the label
                        agreement against PyTorch; exit 1 if they are off
    --cfg-options k=v   override config entries
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Tuple

import torch
from mmengine.config import DictAction

from fcn_mm.apis import init_model
from fcn_mm.deploy import (DEFAULT_OPSET, ExportError, export_onnx, first_test_image,
                           format_verify_table, verify_inputs, verify_onnx)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a fcn_mm segmentor to ONNX (whole-image inference path)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input height and width (default: the crop size of the '
                        'config, else 512 512)')
    parser.add_argument('--dynamic', action='store_true',
                        help='make the batch size, height and width dynamic')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET,
                        help=f'ONNX opset version (default {DEFAULT_OPSET})')
    parser.add_argument('--with-argmax', action='store_true',
                        help='add a `labels` output (N, H, W): the class of every pixel')
    parser.add_argument('--verify', action='store_true',
                        help='compare ONNX Runtime with PyTorch on a test image and '
                        'random inputs')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs')
    return parser.parse_args()


def default_shape(cfg) -> Tuple[int, int]:
    """The crop size of the config (slide windows, else the training pad size)."""
    model = cfg.model
    test_cfg = model.get('test_cfg') or {}
    for size in (test_cfg.get('crop_size') if test_cfg.get('mode') == 'slide' else None,
                 (model.get('data_preprocessor') or {}).get('size')):
        if size:
            return int(size[0]), int(size[1])
    return 512, 512


def main() -> Optional[int]:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint}: no such file')
    if not args.out.endswith('.onnx'):
        raise ValueError(f'--out must name a .onnx file, got {args.out!r}')
    model = init_model(args.config, args.checkpoint, device='cpu',
                       cfg_options=args.cfg_options)
    shape = tuple(args.shape) if args.shape else default_shape(model.cfg)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    try:
        result = export_onnx(model, args.out, shape=shape, dynamic=args.dynamic,
                             opset=args.opset, with_argmax=args.with_argmax,
                             config_name=osp.basename(args.config))
    except ExportError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    size_mb = osp.getsize(args.out) / 2**20
    print(f'wrote {args.out} ({size_mb:.1f} MiB, opset {result.opset}): input img '
          f'{result.input_shape} float32 raw BGR 0..255 -> {", ".join(result.outputs)}')
    if not args.verify:
        return 0
    with torch.no_grad():
        results = verify_onnx(model, args.out, verify_inputs(
            shape, args.dynamic, first_test_image(model.cfg)))
    print('verify: ONNX Runtime against PyTorch predict')
    print(format_verify_table(results))
    if not all(r.passed for r in results):
        print('error: the ONNX file does not reproduce the PyTorch model', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
