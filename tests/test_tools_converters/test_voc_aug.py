"""SBD converter on small generated .mat files."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

VOC_TRAIN, VOC_VAL = ['a1', 'a2'], ['v1', 'v2']
SBD_TRAIN, SBD_VAL = ['a1', 's1', 'v1', 's3'], ['s2', 'v2']
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_TOOL = os.path.join(REPO, 'tools', 'dataset_converters', 'voc_aug.py')
_spec = importlib.util.spec_from_file_location('voc_aug_converter', _TOOL)
_voc_aug = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_voc_aug)
convert_voc_aug = _voc_aug.convert_voc_aug


def _write(tmp_path, bad_mat=False):
    devkit, aug = tmp_path / 'VOCdevkit', tmp_path / 'VOCaug'
    split = devkit / 'VOC2012' / 'ImageSets' / 'Segmentation'
    split.mkdir(parents=True)
    (split / 'train.txt').write_text('\n'.join(VOC_TRAIN) + '\n')
    (split / 'val.txt').write_text('\n'.join(VOC_VAL) + '\n')
    cls = aug / 'dataset' / 'cls'
    cls.mkdir(parents=True)
    (aug / 'dataset' / 'train.txt').write_text('\n'.join(SBD_TRAIN) + '\n')
    (aug / 'dataset' / 'val.txt').write_text('\n'.join(SBD_VAL) + '\n')
    segs = {}
    for i, stem in enumerate(SBD_TRAIN + SBD_VAL):
        seg = np.random.default_rng(i).integers(0, 21, (7, 9)).astype(np.uint8)
        if bad_mat and stem == 's2':
            seg[0, 0] = 30
        segs[stem] = seg
        savemat(str(cls / f'{stem}.mat'), {'GTcls': {
            'Segmentation': seg, 'Boundaries': np.zeros((20, 1), dtype=object),
            'CategoriesPresent': np.unique(seg)[None]}})
    return devkit, aug, segs


def test_convert_pngs_and_splits(tmp_path):
    devkit, aug, segs = _write(tmp_path)
    counts = convert_voc_aug(str(devkit), str(aug))
    out = devkit / 'VOC2012' / 'SegmentationClassAug'
    assert counts == dict(converted=6, trainaug=5, aug=3)
    for stem, seg in segs.items():
        png = Image.open(out / f'{stem}.png')
        assert png.mode == 'P'
        np.testing.assert_array_equal(np.asarray(png), seg)
    split = devkit / 'VOC2012' / 'ImageSets' / 'Segmentation'
    # (VOC train + SBD train + SBD val) - VOC val; (SBD) - (VOC train + VOC val)
    assert (split / 'trainaug.txt').read_text().split() == ['a1', 'a2', 's1', 's2', 's3']
    assert (split / 'aug.txt').read_text().split() == ['s1', 's2', 's3']


def test_cli_with_out_dir_and_nproc(tmp_path):
    devkit, aug, segs = _write(tmp_path)
    out = tmp_path / 'pngs'
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, 'tools/dataset_converters/voc_aug.py'),
         str(devkit), str(aug), '--out-dir', str(out), '--nproc', '2'],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'trainaug.txt: 5 ids' in proc.stdout
    assert sorted(os.listdir(out)) == sorted(f'{s}.png' for s in segs)


def test_bad_inputs(tmp_path):
    devkit, aug, _ = _write(tmp_path, bad_mat=True)
    with pytest.raises(ValueError, match=r's2.mat: GTcls.Segmentation must be .*0..20'):
        convert_voc_aug(str(devkit), str(aug))
    (aug / 'dataset' / 'val.txt').write_text('')
    with pytest.raises(ValueError, match=r'Split file is empty: .*val.txt'):
        convert_voc_aug(str(devkit), str(aug))
    with pytest.raises(FileNotFoundError, match=r'nothere.*dataset_prepare.md'):
        convert_voc_aug(str(devkit), str(tmp_path / 'nothere'))
