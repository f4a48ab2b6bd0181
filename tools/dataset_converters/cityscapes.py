"""Convert Cityscapes fine annotations to train ids for CityscapesDataset.

    python tools/dataset_converters/cityscapes.py data/cityscapes --nproc 8

Input: ``CITYSCAPES/gtFine/{train,val,test}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png``
(from ``gtFine_trainvaltest.zip``), or, where that file is absent, the
``..._gtFine_polygons.json`` beside it. Output, beside each:
``..._gtFine_labelTrainIds.png`` (8-bit grey, train ids 0..18, 255 = ignored, with the
official id table of cityscapesScripts), and ``OUT_DIR/{train,val,test}.txt`` listing
``<city>/<city>_<seq>_<frame>`` (sorted). See
:mod:`fcn_mm.datasets.converters.cityscapes` and docs/dataset_prepare.md.
"""
import argparse

from fcn_mm.datasets.converters.cityscapes import convert_cityscapes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert Cityscapes annotations to '
                                     '*_gtFine_labelTrainIds.png')
    parser.add_argument('cityscapes_path', help='Cityscapes folder (holds gtFine)')
    parser.add_argument('--gt-dir', default='gtFine', help='annotation folder under '
                        'cityscapes_path (default: gtFine)')
    parser.add_argument('-o', '--out-dir', help='where train.txt / val.txt / test.txt go '
                        '(default: cityscapes_path)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = convert_cityscapes(args.cityscapes_path, args.nproc, args.out_dir, args.gt_dir)
    splits = ', '.join(f'{k}.txt: {v}' for k, v in counts.items()
                       if k not in ('converted', 'from_polygons'))
    print(f'converted {counts["converted"]} annotations ({counts["from_polygons"]} drawn '
          f'from polygons); {splits}')


if __name__ == '__main__':
    main()
