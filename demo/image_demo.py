"""Segment images or a video with a trained model and draw the results.

One image, drawn as image | prediction (shown in a window, or written with --out-file)::

    python demo/image_demo.py data/demo/JPEGImages/val_0000.jpg \
        configs/fcn/fcn_r18-d8_demo.py work_dirs/fcn_r18-d8_demo/iter_2000.pth \
        --out-file result.png

A file, a folder, a glob pattern or a video, into a folder of label PNGs and overlays
(``fcn_mm.apis.batch_inference``)::

    python demo/image_demo.py 'data/demo/JPEGImages/val_*.jpg' \
        configs/fcn/fcn_r18-d8_demo.py work_dirs/fcn_r18-d8_demo/iter_2000.pth \
        --out-dir predictions --batch-size 8

An exported model (``tools/deployment/pytorch2onnx.py``) runs with ONNX Runtime when
CHECKPOINT is its ``.onnx`` file.
"""
import os.path as osp
from argparse import ArgumentParser

from fcn_mm.apis import inference_model, init_model, show_result_pyplot
from fcn_mm.apis.batch_inference import IMAGE_EXTENSIONS, segment_inputs
from fcn_mm.utils.device import default_device


def parse_args():
    parser = ArgumentParser(description='Segment images or a video with a fcn_mm model')
    parser.add_argument('img', metavar='INPUT',
                        help='an image file; with --out-dir also a folder of images, a '
                        "quoted glob pattern ('photos/*.jpg') or a video file")
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint',
                        help='checkpoint file, or an exported .onnx file (ONNX Runtime)')
    parser.add_argument('--out-file', default=None,
                        help='one image: write the drawing here (else it is shown in a '
                        'window)')
    parser.add_argument('--out-dir', default=None,
                        help='write labels/<name>.png (palette PNGs of the classes) and '
                        'overlays/<name>.png (or overlays/<video>.mp4) here')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images or frames per model step with --out-dir')
    parser.add_argument('--device', default=default_device(),
                        help='device, e.g. cpu, cuda or cuda:0 (default: CUDA if available)')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted label map, in (0, 1]')
    parser.add_argument('--with-labels', action='store_true',
                        help='one image: write class names on the drawing')
    parser.add_argument('--no-legend', action='store_true',
                        help='--out-dir: no legend of the classes on the overlays')
    parser.add_argument('--no-progress', action='store_true',
                        help='--out-dir: no progress bar')
    parser.add_argument('--title', default='result', help='the window title')
    return parser.parse_args()


def _check_args(args) -> None:
    if not 0 < args.opacity <= 1:
        raise ValueError(f'--opacity must be in (0, 1], got {args.opacity}')
    if args.batch_size < 1:
        raise ValueError(f'--batch-size must be at least 1, got {args.batch_size}')
    if args.out_file is not None and args.out_dir is not None:
        raise ValueError('give --out-file (one image) or --out-dir (many), not both')
    if args.out_dir is None and not (
            osp.isfile(args.img) and osp.splitext(args.img)[1].lower() in IMAGE_EXTENSIONS):
        raise ValueError(f'{args.img}: without --out-dir INPUT must be one image file; '
                         'for a folder, a glob pattern or a video add --out-dir DIR')


def main():
    args = parse_args()
    _check_args(args)
    model = init_model(args.config, args.checkpoint, device=args.device)
    if args.out_dir is not None:
        outputs = segment_inputs(model, args.img, args.out_dir, batch_size=args.batch_size,
                                 opacity=args.opacity, legend=not args.no_legend,
                                 progress=not args.no_progress)
        drawn = (f'the overlay video {outputs.video}' if outputs.video else
                 f'{len(outputs.overlays)} overlay(s) to {osp.join(args.out_dir, "overlays")}')
        print(f'wrote {len(outputs.labels)} label PNG(s) to '
              f'{osp.join(args.out_dir, "labels")} and {drawn}')
        return
    result = inference_model(model, args.img)
    show_result_pyplot(model, args.img, result, opacity=args.opacity, title=args.title,
                       draw_gt=False, with_labels=args.with_labels,
                       show=args.out_file is None, out_file=args.out_file)
    if args.out_file is not None:
        print(f'wrote {args.out_file}')


if __name__ == '__main__':
    main()
