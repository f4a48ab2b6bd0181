"""Label maps blended over images, and the legend of the classes present."""
import numpy as np
import pytest

from fcn_mm.visualization.overlay import (blend_labels, class_colours, draw_legend,
                                          draw_overlay)

COLOURS = np.array([[0, 0, 0], [255, 0, 0], [0, 128, 255]], np.uint8)


def test_blend_labels_mixes_at_the_opacity_and_leaves_other_labels_alone():
    image = np.array([[[100, 50, 200], [10, 20, 30]]], np.uint8)
    labels = np.array([[1, 255]])
    out = blend_labels(image, labels, COLOURS, 0.25)
    # 100 * 0.75 + 255 * 0.25 = 138.75; 50 * 0.75 = 37.5 (-> 38); 200 * 0.75 = 150
    assert out[0, 0].tolist() == [139, 38, 150]
    assert out[0, 1].tolist() == [10, 20, 30]  # 255: not a class
    assert blend_labels(image, np.array([[2, 2]]), COLOURS, 1.0)[0, 1].tolist() == [0, 128, 255]


@pytest.mark.parametrize('kwargs,message', [
    (dict(opacity=1.5), 'opacity must be in \\[0, 1\\], got 1.5'),
    (dict(labels=np.zeros((2, 2), np.int64)), 'label map of shape \\(2, 2\\) does not match'),
])
def test_blend_labels_rejects_bad_input(kwargs, message):
    args = dict(image=np.zeros((1, 2, 3), np.uint8), labels=np.zeros((1, 2), np.int64),
                colours=COLOURS, opacity=0.5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        blend_labels(**args)


def test_class_colours_take_the_palette_then_fixed_ones():
    colours = class_colours(4, [[1, 2, 3], [4, 5, 6]])
    assert colours.shape == (4, 3) and colours[:2].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert np.array_equal(colours, class_colours(4, [[1, 2, 3], [4, 5, 6]]))


def _labels(height=120, width=160):
    labels = np.zeros((height, width), np.int64)  # class 0 covers most pixels
    labels[60:, 80:] = 2                             # then class 2
    labels[:10, 150:] = 1                            # class 1: fewest pixels
    return labels


def test_legend_lists_present_classes_most_frequent_first_inside_its_box():
    canvas = np.full((120, 160, 3), 200, np.uint8)
    before = canvas.copy()
    box = draw_legend(canvas, _labels(), ['bg', 'car', 'person'], COLOURS)
    x0, y0, x1, y1 = box
    assert (x0, y0) == (0, 0) and 0 < x1 < 160 and 0 < y1 < 120
    outside = np.ones((120, 160), bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(canvas[outside], before[outside])  # nothing drawn elsewhere
    inside = canvas[y0:y1, x0:x1].reshape(-1, 3)
    for colour in COLOURS:  # every present class has its swatch
        assert (inside == colour).all(axis=1).any(), colour
    # swatch rows from the top: class 0 (most pixels), class 2, class 1
    rows = [next(i for i in range(y1) if (canvas[i, x0 + 5] == c).all()) for c in
            (COLOURS[0], COLOURS[2], COLOURS[1])]
    assert rows == sorted(rows)


def test_legend_summarises_classes_that_do_not_fit():
    labels = np.repeat(np.arange(6), 8)[None].repeat(30, 0)  # 6 classes, 30 px high
    colours = class_colours(6)
    canvas = np.zeros((30, 48, 3), np.uint8)
    draw_legend(canvas, labels, [f'c{i}' for i in range(6)], colours)
    shown = [c for c in colours if (canvas.reshape(-1, 3) == c).all(axis=1).any()]
    assert 0 < len(shown) < 6


def test_draw_overlay_is_the_blend_plus_the_legend():
    image = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    labels = _labels()
    palette = COLOURS.tolist()
    plain = draw_overlay(image, labels, ['bg', 'car', 'person'], palette, 0.6, legend=False)
    assert np.array_equal(plain, blend_labels(image, labels, COLOURS, 0.6))
    with_legend = draw_overlay(image, labels, ['bg', 'car', 'person'], palette, 0.6)
    assert with_legend.shape == image.shape
    differs = (with_legend != plain).any(axis=2)
    ys, xs = np.nonzero(differs)
    assert ys.size and ys.max() < 60 and xs.max() < 100  # only in the top-left legend
