"""Geometric alignment, RandomCrop's rule, PhotoMetricDistortion semantics, packing."""
import cv2
import numpy as np
import pytest
import torch

from fcn_mm.registry import TRANSFORMS
from fcn_mm.structures import SegDataSample
from voc_layout import block_label, class_colour, label_from_colour


def _results(h=48, w=64, seed=0, block=8):
    label = block_label(h, w, range(21), block=block, seed=seed)
    img = class_colour(label)
    return dict(img=img, gt_seg_map=label, seg_fields=['gt_seg_map'],
                img_shape=(h, w), ori_shape=(h, w))


def _assert_aligned(results, min_exact=0.3):
    """Wherever the image colour is exactly a class colour, the label is that class."""
    img, label = results['img'], results['gt_seg_map']
    assert img.shape[:2] == label.shape
    decoded = label_from_colour(img)
    exact = decoded >= 0
    assert exact.mean() > min_exact  # not vacuous
    np.testing.assert_array_equal(decoded[exact], label[exact])


@pytest.mark.parametrize('cfg', [
    dict(type='Resize', scale=(37, 29), keep_ratio=False),
    dict(type='Resize', scale=(150, 100), keep_ratio=True),
    dict(type='Resize', scale=(2048, 20), keep_ratio=True),
    dict(type='Resize', scale_factor=1.75, keep_ratio=True),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.05, 0.3), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(30, 20)),
    dict(type='RandomFlip', prob=1.0, direction='horizontal'),
    dict(type='RandomFlip', prob=1.0, direction='vertical'),
    dict(type='RandomFlip', prob=1.0, direction='diagonal'),
])
def test_geometric_keeps_alignment(cfg):
    np.random.seed(1)
    before = _results()
    out = TRANSFORMS.build(dict(cfg))(dict(before, img=before['img'].copy()))
    _assert_aligned(out)
    assert tuple(out['img_shape']) == out['gt_seg_map'].shape
    if cfg['type'] == 'Resize' and 'scale' in cfg and not cfg['keep_ratio']:
        assert out['gt_seg_map'].shape == (29, 37)
    if cfg['type'] == 'RandomFlip':
        assert out['flip'] and out['flip_direction'] == cfg['direction']
        # exact pixel flip of both, not just consistency between them
        code = {'horizontal': 1, 'vertical': 0, 'diagonal': -1}[cfg['direction']]
        np.testing.assert_array_equal(out['gt_seg_map'],
                                      cv2.flip(before['gt_seg_map'], code))
    if cfg['type'] == 'RandomCrop':
        assert out['img'].shape == (30, 20, 3)


def test_resize_label_only_takes_existing_values():
    results = _results(block=3)
    out = TRANSFORMS.build(dict(type='Resize', scale=(101, 77)))(results)
    assert set(np.unique(out['gt_seg_map'])) <= set(np.unique(results['gt_seg_map']))


def test_pad_keeps_alignment_and_fills_255():
    out = TRANSFORMS.build(dict(type='Pad', size=(80, 60)))(_results())
    assert out['img'].shape == (60, 80, 3) and out['gt_seg_map'].shape == (60, 80)
    assert (out['gt_seg_map'][48:] == 255).all() and (out['gt_seg_map'][:, 64:] == 255).all()
    assert (out['img'][48:] == 0).all()
    _assert_aligned(dict(img=out['img'][:48, :64], gt_seg_map=out['gt_seg_map'][:48, :64]))


def _reference_crop_box(label, crop, seed, cat_max_ratio=0.75, ignore=255):
    """Independent re-statement of the rule, replaying the same random draws."""
    rs = np.random.RandomState(seed)
    h, w = label.shape
    box = None
    for _ in range(10):
        y = rs.randint(0, max(h - crop[0], 0) + 1)
        x = rs.randint(0, max(w - crop[1], 0) + 1)
        box = (y, x)
        vals, cnt = np.unique(label[y:y + crop[0], x:x + crop[1]], return_counts=True)
        cnt = cnt[vals != ignore]
        if len(cnt) > 1 and cnt.max() / cnt.sum() < cat_max_ratio:
            break
    return box


def _crop_with_seed(label, crop, seed):
    np.random.seed(seed)
    img = np.dstack([np.arange(label.size).reshape(label.shape) % 256] * 3).astype(np.uint8)
    rows = np.arange(label.shape[0])[:, None].repeat(label.shape[1], 1)
    cols = np.arange(label.shape[1])[None].repeat(label.shape[0], 0)
    t = TRANSFORMS.build(dict(type='RandomCrop', crop_size=crop, cat_max_ratio=0.75))
    out = t(dict(img=img, gt_seg_map=label, seg_fields=['gt_seg_map'],
                 rows=rows, cols=cols))
    assert out['img'].shape[:2] == crop and out['gt_seg_map'].shape == crop
    # find where the crop came from using the position-coded image
    code = out['img'][0, 0, 0]
    cand = [(y, x) for y in range(label.shape[0] - crop[0] + 1)
            for x in range(label.shape[1] - crop[1] + 1)
            if img[y, x, 0] == code and np.array_equal(
                img[y:y + crop[0], x:x + crop[1]], out['img'])]
    return out, cand


def test_random_crop_rule_with_a_valid_crop():
    label = np.zeros((40, 40), np.uint8)  # mostly background: many crops are rejected
    label[30:, 30:] = 7
    label[:, :3] = 255
    for seed in range(6):
        out, cand = _crop_with_seed(label, (12, 12), seed)
        assert _reference_crop_box(label, (12, 12), seed) in cand
        crop = out['gt_seg_map']
        counts = np.bincount(crop[crop != 255].ravel(), minlength=21)
        if (counts > 0).sum() > 1:
            assert counts.max() < 0.75 * counts.sum()


def test_random_crop_single_class_still_crops():
    label = np.full((30, 30), 4, np.uint8)
    out, cand = _crop_with_seed(label, (10, 10), seed=3)
    assert _reference_crop_box(label, (10, 10), 3) in cand  # the last one tried
    assert (out['gt_seg_map'] == 4).all()


def test_random_crop_smaller_image_kept_whole():
    out = TRANSFORMS.build(dict(type='RandomCrop', crop_size=(100, 10)))(_results())
    assert out['img'].shape == (48, 10, 3)
    _assert_aligned(out)


def _mmseg_style_reference(img, seed, bd=32, cr=(0.5, 1.5), sr=(0.5, 1.5), hd=18):
    """Per-step float formulas and separate HSV round trips, same random draws."""
    rs = np.random.RandomState(seed)

    def convert(x, alpha=1, beta=0):
        return np.clip(x.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)

    fired = []
    if rs.randint(2):
        img = convert(img, beta=rs.uniform(-bd, bd))
    mode = rs.randint(2)

    def contrast(x):
        if rs.randint(2):
            return convert(x, alpha=rs.uniform(*cr))
        return x
    if mode == 1:
        img = contrast(img)
    if rs.randint(2):
        fired.append('sat')
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        hsv[:, :, 1] = convert(hsv[:, :, 1], alpha=rs.uniform(*sr))
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if rs.randint(2):
        fired.append('hue')
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        hsv[:, :, 0] = (hsv[:, :, 0].astype(int) + rs.randint(-hd, hd)) % 180
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if mode == 0:
        img = contrast(img)
    return img, fired


def test_photometric_matches_mmseg_semantics_and_keeps_label():
    rng = np.random.default_rng(0)
    img0 = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    label = block_label(24, 32, range(21))
    t = TRANSFORMS.build(dict(type='PhotoMetricDistortion'))
    changed = 0
    for seed in range(24):
        expected, fired = _mmseg_style_reference(img0.copy(), seed)
        np.random.seed(seed)
        lab = label.copy()
        out = t(dict(img=img0.copy(), gt_seg_map=lab))
        assert out['gt_seg_map'] is lab
        np.testing.assert_array_equal(lab, label)
        assert out['img'].dtype == np.uint8 and out['img'].shape == img0.shape
        diff = np.abs(out['img'].astype(int) - expected.astype(int))
        if len(fired) < 2:  # one HSV round trip, as the reference: identical
            assert diff.max() == 0, (seed, fired)
        else:  # we share one HSV round trip where the reference does two
            assert diff.mean() < 2, (seed, diff.mean())
        changed += int(not np.array_equal(out['img'], img0))
    assert changed > 12


def test_pack_seg_inputs():
    results = _results(20, 30)
    results.update(img_path='a.jpg', seg_map_path='a.png', scale_factor=(1.0, 1.0),
                   flip=False, flip_direction=None, reduce_zero_label=False,
                   img=results['img'][:, ::-1])  # non-contiguous input
    packed = TRANSFORMS.build(dict(type='PackSegInputs'))(results)
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.shape == (3, 20, 30) and inputs.dtype == torch.uint8
    assert torch.equal(inputs, torch.from_numpy(results['img'].copy()).permute(2, 0, 1))
    assert isinstance(sample, SegDataSample)
    assert sample.gt_sem_seg.data.shape == (1, 20, 30)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    assert torch.equal(sample.gt_sem_seg.data[0],
                       torch.from_numpy(results['gt_seg_map'].astype(np.int64)))
    for key in ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'scale_factor',
                'flip', 'flip_direction', 'reduce_zero_label'):
        assert key in sample.metainfo
    assert sample.img_shape == (20, 30)


def test_test_time_aug_scales_and_flips(tmp_path):
    from voc_layout import save_label_png
    results = _results(20, 30)
    save_label_png(str(tmp_path / 'a.png'), results['gt_seg_map'])
    results.update(seg_map_path=str(tmp_path / 'a.png'), num_classes=21)
    del results['gt_seg_map']
    tta = TRANSFORMS.build(dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in (0.5, 1.0)],
        [dict(type='RandomFlip', prob=0.), dict(type='RandomFlip', prob=1.)],
        [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]]))
    out = tta(results)
    assert [tuple(x.shape) for x in out['inputs']] == [(3, 10, 15)] * 2 + [(3, 20, 30)] * 2
    assert [s.flip for s in out['data_samples']] == [False, True, False, True]
    for sample in out['data_samples']:  # labels stay at the original size, unflipped
        assert sample.gt_sem_seg.data.shape == (1, 20, 30)
