"""What ``tools/test.py`` does around ``runner.test()``.

- :func:`setup_test_config`: load and check the config, set up distributed running,
  SyncBN -> BN where needed, the work dir, the checkpoint to load, and the options:
  ``--tta`` (:func:`enable_tta`), ``--out`` (8-bit palette PNGs of the predictions),
  ``--show-dir`` (:func:`enable_show_dir`), plus a progress bar;
- :func:`use_onnxruntime`: ``--backend onnxruntime``: the exported ``.onnx`` file runs
  in place of the model (same dataset, pipeline, metric and table);
- :func:`write_metrics_json`: the metrics of the run as JSON in the work dir.
"""
import json
import os
import os.path as osp
from typing import Dict, Optional

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from fcn_mm.deploy import onnxruntime_model_cfg

from .training import common_setup, finish_setup

__all__ = ['enable_tta', 'enable_show_dir', 'add_custom_hook', 'setup_test_config',
           'use_onnxruntime', 'write_metrics_json', 'BACKENDS']

BACKENDS = ('pytorch', 'onnxruntime')


def _dataset_cfgs(dataset: dict) -> list:
    """The leaf dataset configs of ``dataset`` (itself, or a ConcatDataset's parts)."""
    if dataset.get('datasets') is not None:
        return [leaf for part in dataset['datasets'] for leaf in _dataset_cfgs(part)]
    if dataset.get('dataset') is not None:  # RepeatDataset and similar wrappers
        return _dataset_cfgs(dataset['dataset'])
    return [dataset]


def enable_tta(cfg: Config) -> None:
    """Test with ``cfg.tta_model`` wrapping ``cfg.model`` and ``cfg.tta_pipeline``.

    Args:
        cfg (Config): changed in place.
    """
    for key in ('tta_model', 'tta_pipeline'):
        if cfg.get(key) is None:
            raise KeyError(f'--tta needs `{key}` in the config {cfg.filename}; the '
                           'dataset bases and default_runtime.py define them')
    for dataset in _dataset_cfgs(cfg.test_dataloader.dataset):
        dataset['pipeline'] = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def add_custom_hook(cfg: Config, hook: dict) -> None:
    """Append ``hook`` to ``cfg.custom_hooks``."""
    hooks = list(cfg.get('custom_hooks') or [])
    hooks.append(ConfigDict(hook))
    cfg.custom_hooks = hooks


def enable_show_dir(cfg: Config, show_dir: str) -> None:
    """Draw image | ground truth | prediction for every test image into ``show_dir``.

    Turns on ``default_hooks.visualization`` (``SegVisualizationHook``) with
    ``draw=True`` and ``test_out_dir=show_dir``: one ``<image stem>.png`` per image.
    As in MMSegmentation, a relative ``show_dir`` is taken under
    ``<work_dir>/<timestamp>/``; an absolute one is used as it is.

    Args:
        cfg (Config): changed in place.
        show_dir (str): output folder.
    """
    hooks = cfg.get('default_hooks') or {}
    if hooks.get('visualization') is None:
        raise KeyError('--show-dir needs `default_hooks.visualization` '
                       f"(dict(type='SegVisualizationHook')) in the config {cfg.filename}")
    cfg.default_hooks.visualization.draw = True
    cfg.default_hooks.visualization.test_out_dir = show_dir


def use_onnxruntime(cfg: Config, onnx_file: str) -> None:
    """Run ``onnx_file`` with ONNX Runtime in place of ``cfg.model`` (``ONNXRuntimeSegmentor``).

    Nothing is loaded into a PyTorch model (``load_from`` is cleared) and the ``speed``
    options (channels_last, compile, amp) are dropped: they apply to PyTorch only.

    Args:
        cfg (Config): changed in place.
        onnx_file (str): a file from tools/deployment/pytorch2onnx.py.
    """
    cfg.model = onnxruntime_model_cfg(cfg.model, onnx_file)
    cfg.load_from = None
    if cfg.get('speed'):
        print_log(f'--backend onnxruntime: ignoring the PyTorch speed options {cfg.speed}',
                  logger='current')
        cfg.speed = {}


def setup_test_config(config: str, checkpoint: str, *,
                      cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                      out_dir: Optional[str] = None, show_dir: Optional[str] = None,
                      tta: bool = False, launcher: str = 'none',
                      local_rank: Optional[int] = None, backend: str = 'pytorch') -> Config:
    """Everything ``tools/test.py`` does before building the Runner.

    Args:
        config (str): config path.
        checkpoint (str): checkpoint to test.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): ``--work-dir``.
        out_dir (str, optional): ``--out``: folder for the prediction PNGs.
        show_dir (str, optional): ``--show-dir``: folder for the drawings.
        tta (bool): ``--tta``.
        launcher (str): ``--launcher``.
        local_rank (int, optional): ``--local-rank`` of the legacy launcher.
        backend (str): ``'pytorch'`` (``checkpoint`` is a .pth file) or
            ``'onnxruntime'`` (``checkpoint`` is an exported .onnx file).

    Returns:
        Config: the config to build the Runner from.
    """
    if backend not in BACKENDS:
        raise ValueError(f'--backend must be one of {BACKENDS}, got {backend!r}')
    if backend == 'onnxruntime' and launcher != 'none':
        raise ValueError(f'--backend onnxruntime runs in one process (ONNX Runtime has no '
                         f'distributed wrapper); use --launcher none, not {launcher!r}')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint}: no such file')
    cfg = common_setup(config, cfg_options, work_dir, launcher, local_rank)
    cfg.load_from = checkpoint
    cfg.resume = False
    if backend == 'onnxruntime':
        use_onnxruntime(cfg, checkpoint)
    if tta:
        enable_tta(cfg)
    if out_dir is not None:
        add_custom_hook(cfg, dict(type='SegPredictionSaveHook', out_dir=out_dir))
    if show_dir is not None:
        enable_show_dir(cfg, show_dir)
    add_custom_hook(cfg, dict(type='ProgressBarHook'))
    return finish_setup(cfg, training=False)


def write_metrics_json(metrics: Dict[str, float], work_dir: str, timestamp: str,
                       config: str, checkpoint: str) -> str:
    """Write ``metrics`` (aAcc, mIoU, mAcc, ...) as JSON in ``work_dir``.

    Args:
        metrics (dict): what ``runner.test()`` returned.
        work_dir (str): the run's work dir.
        timestamp (str): the Runner's timestamp (names the file).
        config (str): config path (recorded in the file).
        checkpoint (str): checkpoint path (recorded in the file).

    Returns:
        str: path of the written file, ``<work_dir>/test_metrics_<timestamp>.json``.
    """
    values = {key: (value.tolist() if hasattr(value, 'tolist') else value)
              for key, value in metrics.items()}
    record = dict(values, config=config, checkpoint=checkpoint)
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, f'test_metrics_{timestamp}.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(record, f, indent=2)
    return path
