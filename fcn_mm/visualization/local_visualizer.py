"""SegLocalVisualizer: draw an image with its ground truth and predicted label maps."""
from typing import List, Optional, Sequence

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.structures import PixelData
from mmengine.visualization import Visualizer

from fcn_mm.registry import VISUALIZERS
from fcn_mm.structures import SegDataSample
from fcn_mm.utils.misc import to_numpy
from .overlay import blend_labels, class_colours

__all__ = ['SegLocalVisualizer']


@VISUALIZERS.register_module()
class SegLocalVisualizer(Visualizer):
    """Draws semantic segmentation results: image | ground truth | prediction.

    The label maps are blended over the image with the dataset palette
    (``dataset_meta['palette']``, set by the Runner from the dataset's metainfo, or
    given here). Pixels whose label is not a class index (e.g. 255, ignored) are left
    as they are.

    Args:
        name (str): the instance name. Defaults to ``'visualizer'``.
        image (np.ndarray, optional): an RGB image to start with.
        vis_backends (list[dict], optional): visual backends, e.g.
            ``[dict(type='LocalVisBackend')]``.
        save_dir (str, optional): where backends save (under ``save_dir/vis_data``).
        classes (Sequence[str], optional): class names.
        palette (Sequence[Sequence[int]], optional): RGB colour of each class.
        alpha (float): opacity of the label colours, 0..1. Defaults to 0.8.
        **kwargs: passed to :class:`mmengine.visualization.Visualizer`.

    Example:
        >>> import numpy as np
        >>> from mmengine.structures import PixelData
        >>> from fcn_mm.structures import SegDataSample
        >>> sample = SegDataSample()
        >>> sample.gt_sem_seg = PixelData(data=np.zeros((1, 8, 10), np.int64))
        >>> vis = SegLocalVisualizer(name='doc', classes=['a', 'b'],
        ...                          palette=[[0, 0, 0], [255, 0, 0]])
        >>> img = np.zeros((8, 10, 3), np.uint8)
        >>> vis.add_datasample('x', img, sample, draw_pred=False, with_labels=False)
        >>> vis.get_image().shape
        (8, 20, 3)
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 alpha: float = 0.8,
                 **kwargs) -> None:
        super().__init__(name, image, vis_backends, save_dir, **kwargs)
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f'SegLocalVisualizer alpha must be in [0, 1], got {alpha}')
        self.alpha = float(alpha)
        if classes is not None or palette is not None:
            self.dataset_meta = dict(classes=classes, palette=palette)

    def _class_colours(self, num_labels: int) -> np.ndarray:
        """(K, 3) uint8 RGB colours for labels 0..K-1: the palette, then fixed random ones.

        K is the number of classes when known, else ``num_labels``.
        """
        meta = self.dataset_meta or {}
        classes, palette = meta.get('classes'), meta.get('palette')
        count = len(classes) if classes is not None else num_labels
        return class_colours(count, palette)

    def _draw_sem_seg(self, image: np.ndarray, sem_seg: PixelData,
                      with_labels: bool) -> np.ndarray:
        """Blend one label map over ``image``.

        Args:
            image (np.ndarray): (H, W, 3) uint8 RGB.
            sem_seg (PixelData): ``data`` of shape (1, H, W) with class indices.
            with_labels (bool): write each present class's name on its largest region.

        Returns:
            np.ndarray: (H, W, 3) uint8 RGB.
        """
        labels = to_numpy(sem_seg.data)
        labels = labels.reshape(labels.shape[-2:]).astype(np.int64)
        colours = self._class_colours(int(labels.max(initial=0)) + 1)
        overlay = blend_labels(image, labels, colours, self.alpha)
        valid = (labels >= 0) & (labels < len(colours))
        classes = (self.dataset_meta or {}).get('classes')
        if with_labels and classes is not None:
            for label in np.unique(labels[valid]):
                self._put_label(overlay, labels == label, str(classes[label]),
                                colours[label])
        return overlay

    @staticmethod
    def _put_label(canvas: np.ndarray, mask: np.ndarray, text: str,
                   colour: np.ndarray) -> None:
        """Write ``text`` at the point of ``mask`` farthest from its border (in place)."""
        dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
        y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
        scale = max(0.3, min(canvas.shape[:2]) / 500)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        x0 = int(np.clip(x - tw // 2, 0, max(canvas.shape[1] - tw, 0)))
        y0 = int(np.clip(y + th // 2, th, canvas.shape[0] - base))
        cv2.rectangle(canvas, (x0, y0 - th), (x0 + tw, y0 + base),
                      tuple(int(c) for c in colour), -1)
        text_colour = (0, 0, 0) if int(colour.astype(np.int64).sum()) > 380 else (255, 255, 255)
        cv2.putText(canvas, text, (x0, y0), cv2.FONT_HERSHEY_SIMPLEX, scale, text_colour, 1,
                    cv2.LINE_AA)

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: bool = True) -> None:
        """Draw ``image`` | ground truth overlay | prediction overlay, side by side.

        A panel is drawn only when asked for and present in ``data_sample``. The result
        is shown (``show``), written to ``out_file`` (BGR file) or else handed to the
        visual backends with ``add_image(name, drawn, step)``.

        Args:
            name (str): the image identifier (window title, backend file name).
            image (np.ndarray): (H, W, 3) uint8 RGB image.
            data_sample (SegDataSample, optional): with ``gt_sem_seg`` and/or
                ``pred_sem_seg`` of shape (1, H, W).
            draw_gt (bool): draw the ground truth panel. Defaults to True.
            draw_pred (bool): draw the prediction panel. Defaults to True.
            show (bool): display the drawing. Defaults to False.
            wait_time (float): seconds to show it (0: until a key). Defaults to 0.
            out_file (str, optional): write the drawing to this path.
            step (int): global step for the backends. Defaults to 0.
            with_labels (bool): write class names on the overlays. Defaults to True.
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'add_datasample expects an (H, W, 3) RGB image, got shape '
                             f'{image.shape}')
        image = image.astype(np.uint8)
        panels = [image]
        if data_sample is not None:
            gt = getattr(data_sample, 'gt_sem_seg', None) if draw_gt else None
            pred = getattr(data_sample, 'pred_sem_seg', None) if draw_pred else None
            panels += [self._draw_sem_seg(image, seg, with_labels)
                       for seg in (gt, pred) if seg is not None]
        drawn = np.concatenate(panels, axis=1)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)
