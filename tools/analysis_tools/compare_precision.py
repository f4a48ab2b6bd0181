"""Compare a checkpoint's predictions in float32 and under inference autocast (bf16 on CPU).

Prints the fraction of pixels whose class agrees and the mIoU of each against the labels of
the config's test split::

    python tools/analysis_tools/compare_precision.py CONFIG CHECKPOINT
"""
import argparse

import numpy as np

from fcn_mm.utils.cfg_options import CfgOptionsAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='fp32 vs autocast predictions')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--device', default='cpu', help='device for the model')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, default={},
                        help='override config keys, as in tools/test.py')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from mmengine.runner import Runner

    from fcn_mm.apis import init_model
    from fcn_mm.utils.config_check import load_config
    from fcn_mm.utils.speed_options import autocast_dtype, inference_autocast
    from fcn_mm.evaluation import confusion_matrix, iou_from_confusion

    cfg = load_config(args.config, cfg_options=args.cfg_options)
    model = init_model(cfg, args.checkpoint, device=args.device)
    classes = len(model.dataset_meta['classes'])
    loader = Runner.build_dataloader(cfg.test_dataloader)
    totals = {'fp32': np.zeros((classes, classes), np.int64),
              'amp': np.zeros((classes, classes), np.int64)}
    same = pixels = 0
    forced = 'bfloat16' if str(args.device or 'cpu').startswith('cpu') else None
    for batch in loader:
        fp32 = model.test_step(batch)
        # bf16 forced on a CPU: this compares precision, whatever --amp would choose
        with inference_autocast(args.device, enabled=True, dtype=forced):
            amp = model.test_step(batch)
        for a, b in zip(fp32, amp):
            pred_a = a.pred_sem_seg.data.cpu().numpy()
            pred_b = b.pred_sem_seg.data.cpu().numpy()
            gt = a.gt_sem_seg.data.cpu().numpy()
            same += int((pred_a == pred_b).sum())
            pixels += pred_a.size
            totals['fp32'] += confusion_matrix(gt, pred_a, classes)
            totals['amp'] += confusion_matrix(gt, pred_b, classes)
    for name, matrix in totals.items():
        print(f'{name}: mIoU {np.nanmean(iou_from_confusion(matrix)) * 100:.2f}')
    print(f'autocast dtype {autocast_dtype(args.device, dtype=forced)}: {same / pixels * 100:.3f}% of '
          f'{pixels} pixels predict the same class as float32')


if __name__ == '__main__':
    main()
