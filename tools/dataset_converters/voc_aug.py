"""Convert SBD ("VOC aug") labels for Pascal VOC training.

    python tools/dataset_converters/voc_aug.py data/VOCdevkit data/VOCdevkit/VOCaug --nproc 8

Reads ``AUG_ROOT/dataset/cls/*.mat`` and the SBD and VOC split files; writes
``VOC2012/SegmentationClassAug/*.png`` and ``VOC2012/ImageSets/Segmentation/``
``trainaug.txt`` (10582 ids on the full data) and ``aug.txt`` (9118). See
``fcn_mm.datasets.voc_aug`` and docs/dataset_prepare.md.
"""
import argparse

from fcn_mm.datasets.voc_aug import convert_voc_aug

EXPECTED = dict(trainaug=10582, aug=9118)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert SBD labels to PNGs and '
                                     'write trainaug.txt / aug.txt')
    parser.add_argument('devkit_path', help='VOCdevkit folder (holds VOC2012)')
    parser.add_argument('aug_path', help='SBD folder (holds dataset/cls)')
    parser.add_argument('-o', '--out-dir', help='PNG output folder (default: '
                        'VOC2012/SegmentationClassAug)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = convert_voc_aug(args.devkit_path, args.aug_path, args.out_dir, args.nproc)
    print(f'converted {counts["converted"]} labels; trainaug.txt: '
          f'{counts["trainaug"]} ids, aug.txt: {counts["aug"]} ids')
    for key, value in EXPECTED.items():
        if counts[key] != value:
            print(f'note: the full VOC2012 + SBD data give {value} ids in {key}.txt')


if __name__ == '__main__':
    main()
