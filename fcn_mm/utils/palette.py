"""Label colours: the VOC colour map and flat PIL palettes for 'P'-mode label PNGs."""
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

__all__ = ['voc_colormap', 'flat_palette']


@lru_cache(maxsize=None)
def _voc_colours(num_entries: int) -> Tuple[Tuple[int, int, int], ...]:
    colours = []
    for index in range(num_entries):
        rgb, value = [0, 0, 0], index
        for j in range(8):
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << (7 - j)
            value >>= 3
        colours.append(tuple(rgb))
    return tuple(colours)


def voc_colormap(num_entries: int = 256) -> List[List[int]]:
    """The VOCdevkit colour map (``VOClabelcolormap.m``) as RGB triples.

    For index ``i``, three bits are taken at a time, lowest first; in round ``j``
    they set bit ``7 - j`` of R, G and B. ``0 -> (0, 0, 0)``, ``1 -> (128, 0, 0)``,
    ``15 -> (192, 128, 128)``, ``255 -> (224, 224, 192)``.

    Args:
        num_entries (int): how many entries to return. Defaults to 256.

    Returns:
        list[list[int]]: ``num_entries`` ``[R, G, B]`` triples (new lists on every
        call; the values are computed once per ``num_entries``).
    """
    return [list(rgb) for rgb in _voc_colours(int(num_entries))]


def flat_palette(palette: Optional[Sequence[Sequence[int]]] = None) -> List[int]:
    """A flat 768-entry PIL palette: ``palette`` first, then the VOC colour map.

    Args:
        palette (Sequence[Sequence[int]], optional): RGB colour of each class.

    Returns:
        list[int]: ``[r0, g0, b0, r1, ...]`` for the 256 indices.

    Raises:
        ValueError: more than 256 colours, or an entry that is not an RGB triple.
    """
    colours = voc_colormap(256)
    if palette is not None:
        palette = [list(map(int, rgb)) for rgb in palette]
        if len(palette) > 256:
            raise ValueError(f'a PNG palette holds 256 colours, the dataset has '
                             f'{len(palette)} classes')
        bad = [rgb for rgb in palette if len(rgb) != 3]
        if bad:
            raise ValueError(f'palette entries must be [R, G, B], got {bad[0]}')
        colours[:len(palette)] = palette
    return [channel for rgb in colours for channel in rgb]
