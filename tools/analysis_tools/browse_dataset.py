"""Write what the training pipeline feeds the model (image | label overlay) as PNGs.

Use it to check augmentations::

    python tools/analysis_tools/browse_dataset.py CONFIG --output-dir browse --num 8
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Save training-pipeline outputs as PNGs')
    parser.add_argument('config', help='config file')
    parser.add_argument('--output-dir', default='browse_dataset', help='folder for the PNGs')
    parser.add_argument('--num', type=int, default=8, help='how many samples to save')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train',
                        help='which dataloader\'s dataset and pipeline to browse')
    parser.add_argument('--opacity', type=float, default=0.5, help='label overlay opacity')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, as in tools/train.py')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from fcn_mm.registry import DATASETS, VISUALIZERS
    from fcn_mm.utils import register_all_modules
    from fcn_mm.utils.config_check import load_config

    register_all_modules()
    cfg = load_config(args.config, cfg_options=args.cfg_options)
    if cfg.get('demo_data'):
        from fcn_mm.datasets.demo_data import prepare_demo_data
        prepare_demo_data(**cfg.demo_data)
    dataset = DATASETS.build(cfg[f'{args.split}_dataloader'].dataset)
    visualizer = VISUALIZERS.build(dict(type='SegLocalVisualizer', name='browse_dataset',
                                        alpha=args.opacity))
    visualizer.dataset_meta = dataset.metainfo
    os.makedirs(args.output_dir, exist_ok=True)
    count = min(args.num, len(dataset))
    for index in range(count):
        item = dataset[index]
        sample = item['data_samples']
        image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]  # BGR -> RGB
        stem = osp.splitext(osp.basename(sample.img_path))[0]
        out_file = osp.join(args.output_dir, f'{index:03d}_{stem}.png')
        visualizer.add_datasample(stem, image, sample, draw_gt=True, draw_pred=False,
                                  show=False, out_file=out_file)
    print(f'Saved {count} {args.split} samples to {args.output_dir}')


if __name__ == '__main__':
    main()
