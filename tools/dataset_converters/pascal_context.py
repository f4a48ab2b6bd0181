"""Convert PASCAL Context annotations to label PNGs for PascalContextDataset(59).

    python tools/dataset_converters/pascal_context.py data/VOCdevkit \
        data/VOCdevkit/VOC2010/trainval_merged.json --nproc 8

Input: ``VOCdevkit/VOC2010/JPEGImages`` and ``trainval_merged.json`` (PASCAL in Detail;
its masks are COCO run-length encoded: needs ``pip install pycocotools``). Output:
``VOC2010/SegmentationClassContext/<id>.png`` (8-bit grey, 0 = background, 1..59 the
classes) and ``VOC2010/ImageSets/SegmentationContext/{train,val}.txt``. See
:mod:`fcn_mm.datasets.converters.pascal_context` and docs/dataset_prepare.md.
"""
import argparse

from fcn_mm.datasets.converters.pascal_context import convert_pascal_context


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert PASCAL Context annotations to '
                                     'SegmentationClassContext PNGs')
    parser.add_argument('devkit_path', help='VOCdevkit folder (holds VOC2010)')
    parser.add_argument('json_path', help='trainval_merged.json')
    parser.add_argument('-o', '--out-dir', '--out_dir', dest='out_dir',
                        help='PNG folder (default: VOC2010/SegmentationClassContext)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = convert_pascal_context(args.devkit_path, args.json_path, args.out_dir,
                                    args.nproc)
    print('converted ' + ', '.join(f'{k}: {v} images' for k, v in counts.items()))


if __name__ == '__main__':
    main()
