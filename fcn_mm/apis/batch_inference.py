"""Run a segmentor over many inputs: an image, a folder, a glob pattern or a video.

:func:`segment_inputs` is what ``demo/image_demo.py INPUT CONFIG CHECKPOINT --out-dir DIR``
runs. For every image (or video frame) it writes

- ``DIR/labels/<name>.png``: the predicted classes as an 8-bit 'P' PNG (pixel value =
  class index, the dataset palette; :mod:`fcn_mm.utils.label_png`), at the input's size;
- ``DIR/overlays/<name>.png``: the input with the palette colours blended over it at
  ``opacity`` and a legend of the classes present (:mod:`fcn_mm.visualization.overlay`);

and for a video ``clip.mp4``: ``DIR/labels/clip/000000.png`` ... per frame and the overlay
video ``DIR/overlays/clip.mp4`` (same size and frame rate, OpenCV's ``mp4v`` codec).
``<name>`` is the file's path relative to the input folder (or to the common folder of a
glob's matches) without its extension. Inputs go through the model ``batch_size`` at a time
(images of different sizes after the test pipeline in separate steps of one batch), and
the predictions equal :func:`~fcn_mm.apis.inference_model`'s on the same images or frames.
"""
import glob
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
from mmengine.utils import ProgressBar

from fcn_mm.structures import SegDataSample
from fcn_mm.utils.label_png import save_label_png
from fcn_mm.utils.misc import to_numpy
from fcn_mm.visualization.overlay import draw_overlay
from .inference import pack_images

__all__ = ['IMAGE_EXTENSIONS', 'VIDEO_EXTENSIONS', 'InputSet', 'find_inputs',
           'predict_batch', 'segment_inputs', 'InferenceOutputs']

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg',
                    '.wmv')
_VIDEO_CODEC = 'mp4v'


@dataclass
class InputSet:
    """What an INPUT argument names.

    Attributes:
        kind (str): ``'images'`` or ``'video'``.
        paths (list[str]): the image files (sorted), or the one video file.
        names (list[str]): output name of each image (relative path, no extension).
    """

    kind: str
    paths: List[str]
    names: List[str] = field(default_factory=list)


@dataclass
class InferenceOutputs:
    """The files :func:`segment_inputs` wrote.

    Attributes:
        labels (list[str]): the label PNGs, one per image or frame, in input order.
        overlays (list[str]): the overlay PNGs (images only).
        video (str | None): the overlay video (video input only).
    """

    labels: List[str] = field(default_factory=list)
    overlays: List[str] = field(default_factory=list)
    video: Optional[str] = None


def _has_ext(path: str, extensions: Sequence[str]) -> bool:
    return osp.splitext(path)[1].lower() in extensions


def _output_names(paths: List[str], root: str) -> List[str]:
    names, seen = [], {}
    for path in paths:
        name = osp.splitext(osp.relpath(path, root))[0]
        if name in seen:
            raise ValueError(f'{seen[name]} and {path} would write the same output files '
                             f'({name}.png); rename one of them')
        seen[name] = path
        names.append(name)
    return names


def find_inputs(spec: str) -> InputSet:
    """Resolve INPUT: an image file, a video file, a folder of images or a glob pattern.

    Args:
        spec (str): the INPUT argument. A folder is searched for image files
            (:data:`IMAGE_EXTENSIONS`, not recursively); a pattern with ``*``, ``?`` or
            ``[`` is expanded with :func:`glob.glob` (``**`` recurses) and keeps its
            image files.

    Returns:
        InputSet: the kind and the files.

    Raises:
        FileNotFoundError: nothing exists under ``spec``, or no image file is found.
        ValueError: a file that is neither an image nor a video, or two inputs that
            would share an output name.
    """
    if osp.isfile(spec):
        if _has_ext(spec, VIDEO_EXTENSIONS):
            return InputSet('video', [spec], [osp.splitext(osp.basename(spec))[0]])
        if not _has_ext(spec, IMAGE_EXTENSIONS):
            raise ValueError(f'{spec}: not an image ({", ".join(IMAGE_EXTENSIONS)}) or a '
                             f'video ({", ".join(VIDEO_EXTENSIONS)}) file')
        return InputSet('images', [spec], [osp.splitext(osp.basename(spec))[0]])
    if osp.isdir(spec):
        paths = sorted(osp.join(spec, n) for n in os.listdir(spec)
                       if _has_ext(n, IMAGE_EXTENSIONS) and osp.isfile(osp.join(spec, n)))
        where, root = f'the folder {spec}', spec
    elif any(c in spec for c in '*?['):
        matches = sorted(glob.glob(spec, recursive=True))
        paths = [osp.abspath(p) for p in matches
                 if osp.isfile(p) and _has_ext(p, IMAGE_EXTENSIONS)]
        where = f'the {len(matches)} match(es) of {spec!r}'
        root = osp.commonpath([osp.dirname(p) for p in paths]) if paths else ''
    else:
        raise FileNotFoundError(f'INPUT {spec}: no such file or folder (give an image, a '
                                'video, a folder of images or a glob pattern)')
    if not paths:
        raise FileNotFoundError(f'no image files ({", ".join(IMAGE_EXTENSIONS)}) in {where}')
    return InputSet('images', paths, _output_names(paths, root))


def predict_batch(model: torch.nn.Module,
                  images: Sequence[Union[str, np.ndarray]]) -> List[SegDataSample]:
    """Segment images together: one model step per group of equal input size.

    Args:
        model (nn.Module): from :func:`~fcn_mm.apis.init_model`.
        images (Sequence[str | np.ndarray]): image files or (H, W, 3) uint8 BGR arrays.

    Returns:
        list[SegDataSample]: in input order, with ``pred_sem_seg`` (1, H, W) and
        ``seg_logits`` (C, H, W) at each image's own size.
    """
    packed = pack_images(model, images)
    groups: Dict[Tuple[int, ...], List[int]] = {}
    for index, item in enumerate(packed):
        groups.setdefault(tuple(item['inputs'].shape), []).append(index)
    results: List[Optional[SegDataSample]] = [None] * len(packed)
    for indices in groups.values():
        with torch.no_grad():
            outputs = model.test_step(dict(
                inputs=[packed[i]['inputs'] for i in indices],
                data_samples=[packed[i]['data_samples'] for i in indices]))
        for index, output in zip(indices, outputs):
            results[index] = output
    return results


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _labels_of(result: SegDataSample) -> np.ndarray:
    return to_numpy(result.pred_sem_seg.data)[0].astype(np.int64)


class _Writer:
    """Writes label PNGs and overlays with the model's classes and palette."""

    def __init__(self, model: torch.nn.Module, out_dir: str, opacity: float,
                 legend: bool) -> None:
        meta = getattr(model, 'dataset_meta', None) or {}
        self.classes, self.palette = meta.get('classes'), meta.get('palette')
        self.out_dir, self.opacity, self.legend = out_dir, opacity, legend

    def label_png(self, labels: np.ndarray, name: str) -> str:
        path = osp.join(self.out_dir, 'labels', f'{name}.png')
        os.makedirs(osp.dirname(path), exist_ok=True)
        return save_label_png(labels, path, self.palette)

    def overlay(self, image_bgr: np.ndarray, labels: np.ndarray) -> np.ndarray:
        drawn = draw_overlay(mmcv.bgr2rgb(image_bgr), labels, self.classes, self.palette,
                             self.opacity, self.legend)
        return mmcv.rgb2bgr(drawn)


def _segment_images(model, inputs: InputSet, writer: _Writer, batch_size: int,
                    bar: Optional[ProgressBar], outputs: InferenceOutputs) -> None:
    for chunk in _chunks(list(zip(inputs.paths, inputs.names)), batch_size):
        results = predict_batch(model, [path for path, _ in chunk])
        for (path, name), result in zip(chunk, results):
            labels = _labels_of(result)
            outputs.labels.append(writer.label_png(labels, name))
            overlay_path = osp.join(writer.out_dir, 'overlays', f'{name}.png')
            os.makedirs(osp.dirname(overlay_path), exist_ok=True)
            image = mmcv.imread(path, channel_order='bgr')
            if not cv2.imwrite(overlay_path, writer.overlay(image, labels)):
                raise OSError(f'could not write {overlay_path}')
            outputs.overlays.append(overlay_path)
            if bar is not None:
                bar.update()


def _open_video(path: str) -> Tuple[cv2.VideoCapture, float, int]:
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ValueError(f'{path}: OpenCV cannot open this video')
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return capture, fps, max(count, 0)


def _frames(capture: cv2.VideoCapture, batch_size: int) -> Iterator[List[np.ndarray]]:
    batch: List[np.ndarray] = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        batch.append(frame)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _segment_video(model, inputs: InputSet, writer: _Writer, batch_size: int,
                   bar_factory, outputs: InferenceOutputs) -> None:
    path, name = inputs.paths[0], inputs.names[0]
    capture, fps, count = _open_video(path)
    bar = bar_factory(count)
    video_path = osp.join(writer.out_dir, 'overlays', f'{name}.mp4')
    os.makedirs(osp.dirname(video_path), exist_ok=True)
    video = None
    index = 0
    try:
        for frames in _frames(capture, batch_size):
            for frame, result in zip(frames, predict_batch(model, frames)):
                labels = _labels_of(result)
                outputs.labels.append(writer.label_png(labels, f'{name}/{index:06d}'))
                if video is None:
                    height, width = frame.shape[:2]
                    video = cv2.VideoWriter(video_path, cv2.VideoWriter_fourcc(*_VIDEO_CODEC),
                                            fps, (width, height))
                    if not video.isOpened():
                        raise OSError(f'could not open {video_path} for writing with the '
                                      f'{_VIDEO_CODEC!r} codec of OpenCV')
                video.write(writer.overlay(frame, labels))
                index += 1
                if bar is not None:
                    bar.update()
    finally:
        capture.release()
        if video is not None:
            video.release()
    if index == 0:
        raise ValueError(f'{path}: no frame could be read')
    outputs.video = video_path


def segment_inputs(model: torch.nn.Module, spec: str, out_dir: str, batch_size: int = 1,
                   opacity: float = 0.5, legend: bool = True,
                   progress: bool = True) -> InferenceOutputs:
    """Segment every image (or video frame) of INPUT and write labels and overlays.

    Args:
        model (nn.Module): from :func:`~fcn_mm.apis.init_model` (on the device to use).
        spec (str): INPUT: image, video, folder or glob pattern (see :func:`find_inputs`).
        out_dir (str): the output folder (see the module docstring for the layout).
        batch_size (int): images or frames per model step. Defaults to 1.
        opacity (float): weight of the class colours in the overlays, in (0, 1].
            Defaults to 0.5.
        legend (bool): draw a legend of the classes present. Defaults to True.
        progress (bool): show a progress bar (mmengine's) on stdout. Defaults to True.

    Returns:
        InferenceOutputs: the written files.

    Raises:
        ValueError: ``batch_size`` < 1 or ``opacity`` outside (0, 1]; see also
            :func:`find_inputs`.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f'batch_size must be a positive integer, got {batch_size!r}')
    if not 0 < opacity <= 1:
        raise ValueError(f'opacity must be in (0, 1], got {opacity}')
    inputs = find_inputs(spec)
    writer = _Writer(model, out_dir, opacity, legend)
    outputs = InferenceOutputs()

    def bar_factory(total: int) -> Optional[ProgressBar]:
        return ProgressBar(total) if progress else None

    if inputs.kind == 'video':
        _segment_video(model, inputs, writer, batch_size, bar_factory, outputs)
    else:
        _segment_images(model, inputs, writer, batch_size, bar_factory(len(inputs.paths)),
                        outputs)
    if progress:
        print(flush=True)  # end the progress bar's line
    return outputs
