"""Build a segmentor from a config and run it on images (MMSegmentation's high-level API)."""
import copy
import os.path as osp
import warnings
from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from fcn_mm.deploy import onnxruntime_model_cfg
from fcn_mm.models.builder import build_offline_model, offline_model_cfg
from fcn_mm.registry import DATASETS, MODELS
from fcn_mm.structures import SegDataSample
from fcn_mm.utils.config_check import check_config, load_config
from fcn_mm.visualization import SegLocalVisualizer

__all__ = ['init_model', 'inference_model', 'pack_images', 'show_result_pyplot']

ImageType = Union[str, Path, np.ndarray]


def _config_dataset_meta(cfg: Config) -> Optional[dict]:
    """classes/palette from the config's test (or val) dataset, or its class METAINFO."""
    for key in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset')
        if not dataset:
            continue
        meta = dataset.get('metainfo')
        if meta and meta.get('classes') is not None:
            return dict(classes=tuple(meta['classes']), palette=meta.get('palette'))
        dataset_cls = DATASETS.get(dataset.get('type', ''))
        meta = getattr(dataset_cls, 'METAINFO', None) if dataset_cls else None
        if meta and meta.get('classes') is not None:
            return dict(classes=tuple(meta['classes']), palette=meta.get('palette'))
    return None


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a segmentor from a config, load a checkpoint and put it in eval mode.

    The config is checked (:func:`fcn_mm.utils.config_check.check_config`) and the model
    is built offline (:func:`fcn_mm.models.builder.build_offline_model`): pretrained-weight
    settings are dropped (the checkpoint gives the weights) and ``SyncBN`` becomes ``BN``
    (with a warning) unless SyncBN can run here.

    An exported ``.onnx`` file as ``checkpoint`` gives an ``ONNXRuntimeSegmentor``
    (fcn_mm.deploy) that :func:`inference_model` runs the same way; its class names and
    palette come from the file.

    Args:
        config (str | Path | Config): config file or object (not modified).
        checkpoint (str, optional): checkpoint file (``.pth``), or an ``.onnx`` file
            from ``tools/deployment/pytorch2onnx.py``; None keeps random weights.
        device (str): e.g. ``'cpu'``, ``'cuda:0'``. Defaults to ``'cpu'``.
        cfg_options (dict, optional): overrides merged into the config, as
            ``--cfg-options`` (e.g. ``{'model.decode_head.num_classes': 6}``).

    Returns:
        nn.Module: the model with ``cfg`` (the config used) and ``dataset_meta``
        (``classes`` and ``palette``: from the checkpoint's meta, else the config).
    """
    config = load_config(config, cfg_options)
    if 'model' not in config:
        raise KeyError(f'the config {config.filename} has no `model` key')
    config.model.pretrained = None
    config.model.train_cfg = None
    config.model = offline_model_cfg(config)
    check_config(config, check_checkpoints=False)
    if checkpoint is not None and str(checkpoint).endswith('.onnx'):
        init_default_scope(config.get('default_scope', 'fcn_mm'))
        model = MODELS.build(onnxruntime_model_cfg(config.model, str(checkpoint), device))
        dataset_meta = model.dataset_meta_from_file or _config_dataset_meta(config)
    else:
        model = build_offline_model(config, checkpoint, init_weights=False)
        dataset_meta = getattr(model, 'dataset_meta', None) or _config_dataset_meta(config)
    if dataset_meta is None:
        warnings.warn('no class names in the checkpoint or the config; dataset_meta is None')
    model.dataset_meta = dataset_meta
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def _test_pipeline(cfg: Config, from_array: bool) -> Compose:
    """The test dataset's pipeline (else ``test_pipeline``) without LoadAnnotations.

    For arrays, LoadImageFromFile is dropped too (the caller fills ``img``).
    """
    pipeline = ((cfg.get('test_dataloader') or {}).get('dataset') or {}).get('pipeline')
    if not pipeline:
        pipeline = cfg.get('test_pipeline')
    if not pipeline:
        raise KeyError(f'the config {cfg.filename} has neither `test_pipeline` nor '
                       '`test_dataloader.dataset.pipeline`')
    steps = [copy.deepcopy(t) for t in pipeline if t.get('type') != 'LoadAnnotations']
    if from_array:
        steps = [t for t in steps if t.get('type') != 'LoadImageFromFile']
    return Compose(steps)


def _check_image(img: Any) -> Union[str, np.ndarray]:
    if isinstance(img, (str, Path)):
        if not osp.isfile(str(img)):
            raise FileNotFoundError(f'image file {img} does not exist')
        return str(img)
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'an image array must be (H, W, 3) BGR, got shape {img.shape}')
        return img
    raise TypeError(f'an image must be a file path or an np.ndarray, got '
                    f'{type(img).__name__}')


def inference_model(model: torch.nn.Module,
                    img: Union[ImageType, Sequence[ImageType]]
                    ) -> Union[SegDataSample, List[SegDataSample]]:
    """Segment one image or a list of images.

    Args:
        model (nn.Module): from :func:`init_model` (needs ``model.cfg``).
        img (str | Path | np.ndarray | list): an image file, an (H, W, 3) uint8 BGR
            array, or a list of those.

    Returns:
        SegDataSample | list[SegDataSample]: with ``pred_sem_seg`` (1, H, W) and
        ``seg_logits`` (C, H, W) at each image's own size; a list for a list input.
    """
    is_batch = isinstance(img, (list, tuple))
    images = img if is_batch else [img]
    if not images:
        raise ValueError('inference_model got an empty list of images')
    results = []
    for packed in pack_images(model, images):
        # one image per step: images of different sizes cannot share a batch
        with torch.no_grad():
            results += model.test_step(dict(inputs=[packed['inputs']],
                                            data_samples=[packed['data_samples']]))
    return results if is_batch else results[0]


def pack_images(model: torch.nn.Module, images: Sequence[ImageType]) -> List[dict]:
    """Run the config's test pipeline (without LoadAnnotations) on each image.

    Args:
        model (nn.Module): from :func:`init_model` (needs ``model.cfg``).
        images (Sequence[str | Path | np.ndarray]): image files or (H, W, 3) uint8 BGR
            arrays (LoadImageFromFile is skipped for arrays).

    Returns:
        list[dict]: per image, ``inputs`` (3, H', W') and ``data_samples``, the input of
        ``model.test_step`` once collated into lists.
    """
    pipelines = {}
    packed = []
    for image in (_check_image(i) for i in images):
        from_array = isinstance(image, np.ndarray)
        if from_array not in pipelines:
            pipelines[from_array] = _test_pipeline(model.cfg, from_array)
        if from_array:
            data = dict(img=image, img_path=None, img_shape=image.shape[:2],
                        ori_shape=image.shape[:2])
        else:
            data = dict(img_path=image)
        packed.append(pipelines[from_array](data))
    return packed


def show_result_pyplot(model: torch.nn.Module,
                       img: ImageType,
                       result: SegDataSample,
                       opacity: float = 0.5,
                       title: str = '',
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       wait_time: float = 0,
                       show: bool = True,
                       with_labels: bool = True,
                       save_dir: Optional[str] = None,
                       out_file: Optional[str] = None) -> np.ndarray:
    """Draw a result: image | ground truth (if in ``result``) | prediction.

    Args:
        model (nn.Module): gives ``dataset_meta`` (classes and palette).
        img (str | Path | np.ndarray): image file or (H, W, 3) BGR array.
        result (SegDataSample): from :func:`inference_model`.
        opacity (float): opacity of the label colours, 0..1. Defaults to 0.5.
        title (str): window title / backend name. Defaults to ''.
        draw_gt (bool): draw ``result.gt_sem_seg`` if present. Defaults to True.
        draw_pred (bool): draw ``result.pred_sem_seg``. Defaults to True.
        wait_time (float): seconds to show (0: until a key). Defaults to 0.
        show (bool): display in a window. Defaults to True.
        with_labels (bool): write class names. Defaults to True.
        save_dir (str, optional): a ``LocalVisBackend`` save dir (when no ``out_file``).
        out_file (str, optional): write the drawing to this file.

    Returns:
        np.ndarray: the drawing, (H, K * W, 3) uint8 RGB with K panels.
    """
    model = getattr(model, 'module', model)
    image = _check_image(img)
    image = mmcv.imread(image, channel_order='rgb') if isinstance(image, str) \
        else mmcv.bgr2rgb(image)
    backends = [dict(type='LocalVisBackend')] if save_dir is not None else None
    visualizer = SegLocalVisualizer(name=f'show_result_pyplot_{id(result)}',
                                    vis_backends=backends, save_dir=save_dir, alpha=opacity)
    visualizer.dataset_meta = getattr(model, 'dataset_meta', None)
    visualizer.add_datasample(title, image, data_sample=result, draw_gt=draw_gt,
                              draw_pred=draw_pred, show=show, wait_time=wait_time,
                              out_file=out_file, with_labels=with_labels)
    return visualizer.get_image()
