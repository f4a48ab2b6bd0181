"""Segment one image with a trained model and draw the result.

Example::

    python demo/image_demo.py data/demo/JPEGImages/val_0000.jpg \
        configs/fcn/fcn_r18-d8_demo.py work_dirs/fcn_r18-d8_demo/iter_1600.pth \
        --out-file result.png

An exported model (``tools/deployment/pytorch2onnx.py``) runs with ONNX Runtime when
CHECKPOINT is its ``.onnx`` file.
"""
from argparse import ArgumentParser

from fcn_mm.apis import inference_model, init_model, show_result_pyplot
from fcn_mm.utils.device import default_device


def parse_args():
    parser = ArgumentParser(description='Segment an image with a fcn_mm model')
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint',
                        help='checkpoint file, or an exported .onnx file (ONNX Runtime)')
    parser.add_argument('--out-file', default=None,
                        help='write the drawing here (else it is shown in a window)')
    parser.add_argument('--device', default=default_device(),
                        help='device, e.g. cpu or cuda:0 (default: CUDA if available)')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the painted label map, in (0, 1]')
    parser.add_argument('--with-labels', action='store_true',
                        help='write class names on the drawing')
    parser.add_argument('--title', default='result', help='the window title')
    return parser.parse_args()


def main():
    args = parse_args()
    if not 0 < args.opacity <= 1:
        raise ValueError(f'--opacity must be in (0, 1], got {args.opacity}')
    model = init_model(args.config, args.checkpoint, device=args.device)
    result = inference_model(model, args.img)
    show_result_pyplot(model, args.img, result, opacity=args.opacity, title=args.title,
                       draw_gt=False, with_labels=args.with_labels,
                       show=args.out_file is None, out_file=args.out_file)
    if args.out_file is not None:
        print(f'wrote {args.out_file}')


if __name__ == '__main__':
    main()
