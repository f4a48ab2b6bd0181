"""TestTimeAug (class ``SegTestTimeAug``): every combination of the given transform lists
(e.g. scales x flips)."""
import copy
from itertools import product
from typing import Callable, List, Sequence, Union

from mmcv.transforms import Compose
from mmcv.transforms import TestTimeAug as _MMCVTestTimeAug

from fcn_mm.registry import TRANSFORMS

__all__ = ['SegTestTimeAug']


@TRANSFORMS.register_module(name='TestTimeAug')
class SegTestTimeAug(_MMCVTestTimeAug):
    """Apply each combination of ``transforms`` (one entry per list) to a sample.

    Registered as ``TestTimeAug`` (MMSegmentation's type name).

    Typical use (multi-scale + flip, as MMSegmentation's ``tta_pipeline``)::

        dict(type='TestTimeAug', transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True)
             for r in (0.5, 1.0, 1.5)],
            [dict(type='RandomFlip', prob=0.), dict(type='RandomFlip', prob=1.)],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')]])

    Reads: whatever the sub-transforms read. Writes: a dict whose every value is
    the list of that key over the combinations (``inputs``, ``data_samples``).

    Args:
        transforms (list[list[dict | callable]]): lists of alternatives; configs are
            built in fcn_mm's TRANSFORMS.
    """

    def __init__(self, transforms: Sequence[Sequence[Union[dict, Callable]]]) -> None:
        built: List[list] = []
        for i, alternatives in enumerate(transforms):
            row = []
            for j, t in enumerate(alternatives):
                if isinstance(t, dict):
                    row.append(TRANSFORMS.build(copy.deepcopy(t)))
                elif callable(t):
                    row.append(t)
                else:
                    raise TypeError(f'TestTimeAug.transforms[{i}][{j}] must be a dict '
                                    f'or callable, got {type(t)}')
            built.append(row)
        self.subroutines = [Compose(list(combo)) for combo in product(*built)]

    def transform(self, results: dict) -> dict:
        """Run every combination on a copy of ``results``.

        Args:
            results (dict): one loaded sample.

        Returns:
            dict: key -> list over combinations.
        """
        outputs = []
        for subroutine in self.subroutines:
            out = subroutine(copy.deepcopy(results))
            if not isinstance(out, dict):
                raise ValueError(f'TestTimeAug: {subroutine} returned {out!r} for '
                                 f'{results.get("img_path")}, expected a dict.')
            outputs.append(out)
        return {key: [out[key] for out in outputs] for key in outputs[0]}
