"""The one 'P'-PNG writer of label maps."""
import numpy as np
import pytest
import torch
from PIL import Image

from fcn_mm.utils.label_png import save_label_png, save_prediction_png


def test_label_png_holds_the_indices_and_the_palette(tmp_path):
    label = np.random.default_rng(0).integers(0, 256, (6, 4))
    out = save_label_png(torch.from_numpy(label)[None], str(tmp_path / 'a.png'),
                         palette=[[9, 8, 7]])
    image = Image.open(out)
    assert image.mode == 'P' and image.size == (4, 6)
    assert image.getpalette()[:6] == [9, 8, 7, 128, 0, 0]  # then VOC's colour 1
    np.testing.assert_array_equal(np.asarray(image), label)


def test_prediction_png_is_named_after_the_image_and_shifted_by_reduce_zero_label(tmp_path):
    pred = np.arange(12).reshape(3, 4)
    path = save_prediction_png(pred, str(tmp_path), '/data/x/img_7.jpeg',
                               reduce_zero_label=True)
    assert path == str(tmp_path / 'img_7.png')
    np.testing.assert_array_equal(np.asarray(Image.open(path)), pred + 1)


def test_bad_label_maps_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r'b\.png: a label map must be \(H, W\)'):
        save_label_png(np.zeros((2, 3, 4)), str(tmp_path / 'b.png'))
    with pytest.raises(ValueError, match=r'c\.png: class indices must be in 0\.\.255.*-1'):
        save_label_png(np.full((2, 2), -1), str(tmp_path / 'c.png'))
