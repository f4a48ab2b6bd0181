"""The VOC colour map and flat PIL palettes."""
import numpy as np
import pytest
from PIL import Image

from fcn_mm.utils.palette import flat_palette, voc_colormap


def test_voc_colormap_known_entries():
    colours = voc_colormap(256)
    assert colours[0] == [0, 0, 0] and colours[1] == [128, 0, 0]
    assert colours[2] == [0, 128, 0] and colours[15] == [192, 128, 128]
    assert colours[20] == [0, 64, 128] and colours[255] == [224, 224, 192]
    assert len({tuple(c) for c in colours}) == 256


def test_flat_palette_puts_dataset_colours_first_and_keeps_indices(tmp_path):
    flat = flat_palette([[1, 2, 3], [4, 5, 6]])
    assert len(flat) == 768 and flat[:6] == [1, 2, 3, 4, 5, 6]
    assert flat[6:9] == voc_colormap(3)[2]
    labels = np.array([[0, 1], [255, 2]], dtype=np.uint8)
    png = Image.fromarray(labels, mode='P')
    png.putpalette(flat)
    png.save(tmp_path / 'l.png')
    assert (np.array(Image.open(tmp_path / 'l.png')) == labels).all()


def test_flat_palette_rejects_bad_entries():
    with pytest.raises(ValueError, match='256 colours'):
        flat_palette([[0, 0, 0]] * 300)
    with pytest.raises(ValueError, match=r'\[R, G, B\]'):
        flat_palette([[0, 0]])


def test_label_palette_puts_the_dataset_colours_first():
    palette = flat_palette([[1, 2, 3], [4, 5, 6]])
    assert len(palette) == 768 and palette[:6] == [1, 2, 3, 4, 5, 6]
    voc = flat_palette()
    assert voc[3:6] == [128, 0, 0] and voc[6:9] == [0, 128, 0]  # VOC's aeroplane, bicycle
    with pytest.raises(ValueError, match='256 colours'):
        flat_palette([[0, 0, 0]] * 300)


def test_voc_colormap_returns_new_lists_each_call():
    first = voc_colormap(4)
    first[1][0] = 7
    first.append([1, 2, 3])
    assert voc_colormap(4) == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
