"""EncoderDecoder: backbone (+ neck) + decode head (+ auxiliary heads)."""
import copy
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from fcn_mm.registry import MODELS
from fcn_mm.utils.misc import add_prefix
from fcn_mm.utils.typing_utils import (ConfigType, OptConfigType, OptMultiConfig,
                                       OptSampleList, SampleList)

from ..utils import build_head, check_head_in_channels
from .base import BaseSegmentor

__all__ = ['EncoderDecoder', 'slide_windows', 'window_count',
           'DEFAULT_WINDOWS_PER_FORWARD']

# test_cfg.windows_per_forward when a slide config does not set it (None: all at once).
# One window (of every image of the batch) per forward: on CPU the least time and memory
# (FCN R18-D8, 1024x2048, 18 windows of 512x512: 1 -> 6 -> all per forward took 1 : 1.16 :
# 1.23 of the CPU time and 590 : 910 : 900 MiB over the model); CUDA may gain from more.
DEFAULT_WINDOWS_PER_FORWARD = 1
_COUNT_CACHE_SIZE = 8


def slide_windows(height: int, width: int, crop_size: Sequence[int],
                  stride: Sequence[int]) -> List[Tuple[int, int, int, int]]:
    """Windows ``(y1, y2, x1, x2)`` of a sliding-window pass over an image.

    Windows start every ``stride`` pixels; the last one in each direction is moved
    back so it ends at the border, hence every pixel is covered and every window
    has size ``min(crop, image)``.

    Args:
        height (int): image height.
        width (int): image width.
        crop_size (Sequence[int]): (h_crop, w_crop).
        stride (Sequence[int]): (h_stride, w_stride), each <= the crop.

    Returns:
        list[tuple[int, int, int, int]]: the windows, row-major.
    """
    (h_crop, w_crop), (h_stride, w_stride) = crop_size, stride
    h_grids = max(height - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(width - w_crop + w_stride - 1, 0) // w_stride + 1
    windows = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y2 = min(h_idx * h_stride + h_crop, height)
            x2 = min(w_idx * w_stride + w_crop, width)
            windows.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
    return windows


def _check_test_cfg(test_cfg: dict) -> None:
    mode = test_cfg.get('mode', 'whole')
    if mode not in ('whole', 'slide'):
        raise ValueError(f"model.test_cfg.mode must be 'whole' or 'slide', got {mode!r}")
    if mode == 'whole':
        return
    for key in ('crop_size', 'stride'):
        value = test_cfg.get(key)
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(isinstance(v, int) and v > 0 for v in value)):
            raise ValueError(f"model.test_cfg.{key} must be (h, w) positive ints for mode "
                             f"'slide', got {value!r}")
    if any(s > c for s, c in zip(test_cfg['stride'], test_cfg['crop_size'])):
        raise ValueError(f"model.test_cfg.stride {tuple(test_cfg['stride'])} must not exceed "
                         f"crop_size {tuple(test_cfg['crop_size'])}, or pixels are skipped")
    per_forward = test_cfg.get('windows_per_forward', DEFAULT_WINDOWS_PER_FORWARD)
    if per_forward is not None and (not isinstance(per_forward, int)
                                    or isinstance(per_forward, bool) or per_forward < 1):
        raise ValueError('model.test_cfg.windows_per_forward must be a positive int (windows '
                         f'of each image per forward) or None (all at once), got '
                         f'{per_forward!r}')


def window_count(height: int, width: int, windows: Sequence[Tuple[int, int, int, int]],
                 device: Union[str, torch.device] = 'cpu') -> torch.Tensor:
    """How many of ``windows`` cover each pixel of a ``height`` x ``width`` image.

    Args:
        height (int): image height.
        width (int): image width.
        windows (Sequence[tuple]): ``(y1, y2, x1, x2)`` of each window.
        device (str | torch.device): where the map is made.

    Returns:
        Tensor: (1, 1, height, width) float32 counts.

    Raises:
        RuntimeError: when a pixel is covered by no window.
    """
    count = torch.zeros((1, 1, height, width), device=device)
    for y1, y2, x1, x2 in windows:
        count[:, :, y1:y2, x1:x2] += 1
    if bool((count == 0).any()):
        raise RuntimeError(f'slide windows {list(windows)} leave pixels of a '
                           f'{height}x{width} image uncovered')
    return count


@MODELS.register_module()
class EncoderDecoder(BaseSegmentor):
    """Encoder-decoder segmentor (FCN, PSPNet, DeepLab ... style).

    Call flow::

        forward(inputs, data_samples, mode)
          mode='loss':    loss()    -> extract_feat() -> backbone (-> neck)
                                    -> decode_head.loss()           -> 'decode.*'
                                    -> auxiliary_head[i].loss()     -> 'aux.*' / 'aux_i.*'
          mode='predict': predict() -> inference()
                                       -> whole_inference() | slide_inference()
                                          -> encode_decode() -> extract_feat()
                                             -> decode_head.predict()  (logits at input size)
                                    -> postprocess_result() (crop padding, unflip,
                                       resize to ori_shape, argmax)
          mode='tensor':  _forward() -> extract_feat() -> decode_head.forward()

    Args:
        backbone (dict): backbone config.
        decode_head (dict): decode head config.
        neck (dict, optional): neck config.
        auxiliary_head (dict | list[dict], optional): auxiliary head config(s).
        train_cfg (dict, optional): training config (passed to the heads).
        test_cfg (dict, optional): ``dict(mode='whole')`` (default) or
            ``dict(mode='slide', crop_size=(h, w), stride=(h, w))``, optionally with
            ``windows_per_forward`` (windows of each image per network forward; 1 by
            default, None for all windows in one forward).
        data_preprocessor (dict, optional): data preprocessor config.
        pretrained (str, optional): backbone checkpoint (sets ``backbone.pretrained``).
        init_cfg (dict or list[dict], optional): initialisation config.

    Raises:
        ValueError: when a head's ``in_channels`` does not match the channels of the
            backbone output it reads (``in_index``), naming the config key.
    """

    def __init__(self, backbone: ConfigType, decode_head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: Union[None, ConfigType, Sequence[ConfigType]] = None,
                 train_cfg: OptConfigType = None, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None, pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        backbone = copy.deepcopy(backbone)
        if pretrained is not None:
            if backbone.get('pretrained') is not None:
                raise ValueError('model.pretrained and model.backbone.pretrained are both '
                                 'set; keep only one')
            backbone['pretrained'] = pretrained
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        self._init_decode_head(decode_head)
        self._init_auxiliary_head(auxiliary_head)
        self.train_cfg = train_cfg if train_cfg is not None else dict()
        self.test_cfg = test_cfg if test_cfg is not None else dict(mode='whole')
        _check_test_cfg(self.test_cfg)
        self._check_in_channels()

    def _init_decode_head(self, decode_head: ConfigType) -> None:
        self.decode_head = build_head(decode_head, 'model.decode_head')
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels

    def _init_auxiliary_head(self, auxiliary_head) -> None:
        if auxiliary_head is None:
            return
        if isinstance(auxiliary_head, (list, tuple)):
            self.auxiliary_head = nn.ModuleList(
                build_head(cfg, f'model.auxiliary_head[{i}]')
                for i, cfg in enumerate(auxiliary_head))
        else:
            self.auxiliary_head = build_head(auxiliary_head, 'model.auxiliary_head')

    def _check_in_channels(self) -> None:
        """Compare each head's ``in_channels`` with what the backbone (or neck) returns."""
        source = self.neck if self.with_neck else self.backbone
        feat_channels = getattr(source, 'out_channels', None)
        if not isinstance(feat_channels, (list, tuple)):
            return
        check_head_in_channels(self.decode_head, feat_channels, 'model.decode_head.in_channels')
        for _, key, head in self._aux_heads():
            check_head_in_channels(head, feat_channels, f'{key}.in_channels')

    def _aux_heads(self) -> List[Tuple[str, str, nn.Module]]:
        """(loss prefix, config key, head) of each auxiliary head."""
        aux = getattr(self, 'auxiliary_head', None)
        if aux is None:
            return []
        if isinstance(aux, nn.ModuleList):
            return [(f'aux_{i}', f'model.auxiliary_head[{i}]', head)
                    for i, head in enumerate(aux)]
        return [('aux', 'model.auxiliary_head', aux)]

    def extract_feat(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Backbone (and neck) features of (N, C, H, W) images."""
        x = self.backbone(inputs)
        return self.neck(x) if self.with_neck else x

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Logits (N, out_channels, H, W) at the input size (see ``predict_by_feat``)."""
        return self.decode_head.predict(self.extract_feat(inputs), batch_img_metas,
                                        self.test_cfg)

    def loss(self, inputs: torch.Tensor, data_samples: SampleList) -> Dict[str, torch.Tensor]:
        """Losses of the decode head ('decode.*') and auxiliary heads ('aux.*').

        Args:
            inputs (Tensor): (N, C, H, W) preprocessed images.
            data_samples (list[SegDataSample]): with ``gt_sem_seg`` (1, H, W).

        Returns:
            dict[str, Tensor]: e.g. ``decode.loss_ce``, ``decode.acc_seg``,
            ``aux.loss_ce``, ``aux.acc_seg``.
        """
        x = self.extract_feat(inputs)
        losses = add_prefix(self.decode_head.loss(x, data_samples, self.train_cfg), 'decode')
        for prefix, _, head in self._aux_heads():
            losses.update(add_prefix(head.loss(x, data_samples, self.train_cfg), prefix))
        return losses

    def predict(self, inputs: torch.Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Predictions at the original image size.

        Args:
            inputs (Tensor): (N, C, H, W) preprocessed images.
            data_samples (list[SegDataSample], optional): metainfo (``ori_shape``,
                ``img_shape``, ``pad_shape``, ``padding_size``, ``flip`` ...).

        Returns:
            list[SegDataSample]: with ``seg_logits`` (C, H0, W0) and ``pred_sem_seg`` (1, H0, W0).
        """
        if data_samples is not None:
            batch_img_metas = [sample.metainfo for sample in data_samples]
        else:
            shape = inputs.shape[2:]
            batch_img_metas = [dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                                    padding_size=[0, 0, 0, 0])] * inputs.shape[0]
        seg_logits = self.inference(inputs, batch_img_metas)
        return self.postprocess_result(seg_logits, data_samples)

    def _forward(self, inputs: torch.Tensor, data_samples: OptSampleList = None) -> torch.Tensor:
        """Raw decode-head logits (N, out_channels, h, w), e.g. h = ceil(H / 8)."""
        return self.decode_head.forward(self.extract_feat(inputs))

    def inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Logits (N, out_channels, H, W) at the input size, by ``test_cfg.mode``."""
        if self.test_cfg.get('mode', 'whole') == 'slide':
            return self.slide_inference(inputs, batch_img_metas)
        return self.whole_inference(inputs, batch_img_metas)

    def whole_inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """One forward of the whole (N, C, H, W) batch -> (N, out_channels, H, W)."""
        return self.encode_decode(inputs, batch_img_metas)

    def _slide_count(self, height: int, width: int,
                     windows: Sequence[Tuple[int, int, int, int]],
                     device: torch.device) -> torch.Tensor:
        """The (1, 1, H, W) window count of one padded image size, computed once.

        Kept for the last few sizes (a test set of one image size needs one map); the
        cache is a plain attribute, not part of the ``state_dict``.
        """
        key = (height, width, tuple(windows), str(device))
        cache = self.__dict__.setdefault('_slide_count_cache', OrderedDict())
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        count = window_count(height, width, windows, device)
        cache[key] = count
        while len(cache) > _COUNT_CACHE_SIZE:
            cache.popitem(last=False)
        return count

    def slide_inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Sliding windows of ``test_cfg.crop_size`` every ``test_cfg.stride``.

        Images smaller than the crop are padded with 0 (bottom/right) to the crop
        size first. ``test_cfg.windows_per_forward`` windows of every image go
        through the network in one forward (1 by default, all of them when None);
        each forward's logits are added in place into one float32 sum, which is
        divided by the window count of the image size (computed once per size);
        the padding is cut off. The number of windows per forward changes only
        the float rounding of the logits, not what is computed.

        Args:
            inputs (Tensor): (N, C, H, W).
            batch_img_metas (list[dict]): image metas (not modified).

        Returns:
            Tensor: (N, out_channels, H, W) float32 (or the input dtype if wider).
        """
        crop_size, stride = tuple(self.test_cfg['crop_size']), tuple(self.test_cfg['stride'])
        batch_size, _, height, width = inputs.shape
        pad_h, pad_w = max(crop_size[0] - height, 0), max(crop_size[1] - width, 0)
        if pad_h or pad_w:
            inputs = F.pad(inputs, (0, pad_w, 0, pad_h), value=0)
        full_h, full_w = inputs.shape[2:]
        windows = slide_windows(full_h, full_w, crop_size, stride)
        count = self._slide_count(full_h, full_w, windows, inputs.device)
        per_forward = self.test_cfg.get('windows_per_forward', DEFAULT_WINDOWS_PER_FORWARD)
        per_forward = len(windows) if per_forward is None else per_forward
        window_shape = torch.Size((min(crop_size[0], full_h), min(crop_size[1], full_w)))
        preds = None
        for start in range(0, len(windows), per_forward):
            group = windows[start:start + per_forward]
            crops = torch.cat([inputs[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in group], dim=0)
            window_metas = [dict(meta, img_shape=window_shape)
                            for _ in group for meta in batch_img_metas]
            logits = self.encode_decode(crops, window_metas)
            if preds is None:
                # accumulate in float32 even when the logits come from autocast
                dtype = torch.promote_types(inputs.dtype, torch.float32)
                preds = inputs.new_zeros((batch_size, logits.shape[1], full_h, full_w),
                                         dtype=dtype)
            for k, (y1, y2, x1, x2) in enumerate(group):
                preds[:, :, y1:y2, x1:x2] += logits[k * batch_size:(k + 1) * batch_size]
        preds.div_(count)
        return preds[:, :, :height, :width]
