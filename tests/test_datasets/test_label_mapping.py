"""BinarizeLabels: class indices -> {0, 1}, the ignore index kept."""
import numpy as np
import pytest

from fcn_mm.registry import TRANSFORMS


def test_binarize_maps_background_to_0_the_rest_to_1_and_keeps_255():
    label = np.array([[0, 1, 2], [5, 255, 3]], np.uint8)
    out = TRANSFORMS.build(dict(type='BinarizeLabels'))(
        dict(gt_seg_map=label.copy(), seg_fields=['gt_seg_map']))['gt_seg_map']
    np.testing.assert_array_equal(out, [[0, 1, 1], [1, 255, 1]])
    assert out.dtype == np.uint8
    two = TRANSFORMS.build(dict(type='BinarizeLabels', background=[0, 3]))(
        dict(gt_seg_map=label.copy()))['gt_seg_map']
    np.testing.assert_array_equal(two, [[0, 1, 1], [1, 255, 0]])


def test_binarize_errors_name_the_argument():
    with pytest.raises(ValueError, match='BinarizeLabels.background'):
        TRANSFORMS.build(dict(type='BinarizeLabels', background=[]))
    with pytest.raises(ValueError, match='ignore_index 255 cannot also be a background'):
        TRANSFORMS.build(dict(type='BinarizeLabels', background=[0, 255]))
    with pytest.raises(KeyError, match='after LoadAnnotations'):
        TRANSFORMS.build(dict(type='BinarizeLabels'))(dict(img=np.zeros((2, 2, 3))))
