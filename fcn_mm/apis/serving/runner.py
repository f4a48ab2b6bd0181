"""The served model: built once from a config and a checkpoint (``.pth``) or an exported
``.onnx`` file (float32 or int8), then run on batches of same-size images."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
import torch

from fcn_mm.visualization.overlay import class_colours
from ..inference import init_model, pack_images

__all__ = ['SegmentationRunner']


class SegmentationRunner:
    """A segmentor and what the service says about it.

    Args:
        config (str): the model's config file.
        checkpoint (str, optional): a ``.pth`` checkpoint, or an ``.onnx`` file from
            ``tools/deployment/pytorch2onnx.py`` / ``quantize.py`` (run by ONNX
            Runtime); None keeps random weights (for tests and load checks).
        device (str): ``'cpu'`` or ``'cuda[:i]'``. Defaults to ``'cpu'``.
        cfg_options (dict, optional): config overrides, as ``--cfg-options``.

    Attributes:
        model (nn.Module): from :func:`fcn_mm.apis.init_model`.
        classes (tuple[str]): class names.
        palette (np.ndarray): (K, 3) uint8 RGB colour of each class.
        info (dict): ``model``, ``config``, ``precision`` and ``backend`` (response
            headers and JSON fields).
    """

    def __init__(self, config: str, checkpoint: Optional[str] = None, device: str = 'cpu',
                 cfg_options: Optional[dict] = None):
        self.model = init_model(config, checkpoint, device=device, cfg_options=cfg_options)
        meta = self.model.dataset_meta or {}
        num_classes = int(getattr(self.model, 'num_classes', 0) or 0)
        classes = meta.get('classes') or [str(i) for i in range(num_classes)]
        self.classes = tuple(str(c) for c in classes)
        self.palette = class_colours(max(len(self.classes), 1), meta.get('palette'))
        onnx = checkpoint is not None and str(checkpoint).endswith('.onnx')
        precision = str(self.model.metadata.get('precision', 'float32')) if onnx \
            else str(next(self.model.parameters()).dtype).replace('torch.', '')
        self.info = dict(
            model=osp.basename(str(checkpoint)) if checkpoint else
            f'{osp.basename(str(config))} (random weights)',
            config=osp.basename(str(config)), precision=precision,
            backend='onnxruntime' if onnx else 'pytorch')
        self.test_cfg = dict(getattr(self.model, 'test_cfg', None) or {})

    def predict(self, images: Sequence[np.ndarray]) -> List[np.ndarray]:
        """Label maps of images of one size, as one batch (slide mode as the config says).

        Args:
            images (Sequence[np.ndarray]): (H, W, 3) uint8 BGR images, all the same size.

        Returns:
            list[np.ndarray]: (H, W) uint8 label maps (int32 above 256 classes).
        """
        packed = pack_images(self.model, list(images))
        data = dict(inputs=[p['inputs'] for p in packed],
                    data_samples=[p['data_samples'] for p in packed])
        # the segmentor in eval mode keeps no state between calls, so inference threads
        # share it (ONNX Runtime's session.run is thread-safe as well)
        with torch.no_grad():
            results = self.model.test_step(data)
        dtype = np.uint8 if len(self.classes) <= 256 else np.int32
        return [r.pred_sem_seg.data[0].cpu().numpy().astype(dtype) for r in results]
