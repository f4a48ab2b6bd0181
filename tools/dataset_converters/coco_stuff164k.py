"""Convert COCO-Stuff 164k stuffthingmaps to the 171 train ids of COCOStuffDataset.

    python tools/dataset_converters/coco_stuff164k.py data/coco_stuff164k --nproc 8

Input: ``ROOT/annotations/{train2017,val2017}/<id>.png`` (stuffthingmaps: COCO ids
0..181, 255 = unlabelled) and ``ROOT/images/{train2017,val2017}/<id>.jpg``. Output:
``<id>_labelTrainIds.png`` beside each mask (8-bit grey, train ids 0..170; the 11 COCO
ids without a class and 255 become 255). See
:mod:`fcn_mm.datasets.converters.coco_stuff` and docs/dataset_prepare.md.
"""
import argparse

from fcn_mm.datasets.converters.coco_stuff import EXPECTED_IMAGES, convert_coco_stuff164k


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert COCO-Stuff 164k annotations to '
                                     '*_labelTrainIds.png')
    parser.add_argument('coco_path', help='COCO-Stuff folder (holds images/, annotations/)')
    parser.add_argument('-o', '--out-dir', help='output root (default: coco_path)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = convert_coco_stuff164k(args.coco_path, args.nproc, args.out_dir)
    print('converted ' + ', '.join(f'{k}: {v} masks' for k, v in counts.items()))
    for split, expected in EXPECTED_IMAGES.items():
        if counts.get(split) != expected:
            print(f'note: the full COCO-Stuff 164k has {expected} masks in {split}')


if __name__ == '__main__':
    main()
