"""ONNXRuntimeSegmentor: an exported graph as an fcn_mm model (Runner, test loop, IoUMetric).

Call flow (mirrors :class:`EncoderDecoder`; the graph replaces preprocessing + network)::

    test_step(data) -> data_preprocessor (moves the raw images; nothing else)
      -> predict(inputs, data_samples)
         -> stack_raw()             stack; the PyTorch preprocessor's test-time padding
                                    (size / size_divisor) with the raw pad value
         -> whole_inference()       the graph on the batch
            | slide_inference()     the graph on all windows (small images padded with
                                    the raw pad value, as fcn_mm pads with 0 after
                                    normalising)
         -> postprocess_result()    crop padding, unflip, resize to ori_shape, argmax
"""
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from fcn_mm.models.data_preprocessor import stack_batch
from fcn_mm.models.segmentors.base import BaseSegmentor
from fcn_mm.models.segmentors.encoder_decoder import slide_windows
from fcn_mm.registry import MODELS
from fcn_mm.utils.typing_utils import OptConfigType, OptSampleList, SampleList
from .int8_check import check_int8_file
from .metadata import INPUT_NAME, PRECISION_KEY, parse_metadata
from .ort_session import create_session, providers_for_device

__all__ = ['ONNXRuntimeSegmentor', 'onnxruntime_model_cfg', 'HeadSettings']


class HeadSettings(NamedTuple):
    """What post-processing reads of a decode head (stored in the ONNX metadata)."""
    out_channels: int
    num_classes: int
    align_corners: bool
    threshold: Optional[float]


def _check_test_cfg(test_cfg: dict) -> dict:
    mode = test_cfg.get('mode', 'whole')
    if mode not in ('whole', 'slide'):
        raise ValueError(f"model.test_cfg.mode must be 'whole' or 'slide', got {mode!r}")
    if mode == 'slide':
        for key in ('crop_size', 'stride'):
            if not isinstance(test_cfg.get(key), (list, tuple)) or len(test_cfg[key]) != 2:
                raise ValueError(f"model.test_cfg.{key} must be (h, w) for mode 'slide', "
                                 f'got {test_cfg.get(key)!r}')
    return test_cfg


@MODELS.register_module()
class ONNXRuntimeSegmentor(BaseSegmentor):
    """Runs a file from ``tools/deployment/pytorch2onnx.py`` with ONNX Runtime.

    The graph takes raw (N, 3, H, W) images, so the data preprocessor only moves the
    batch; test-time padding and sliding windows happen here, with the raw values that
    the graph normalises to what fcn_mm pads with: the preprocessor's ``pad_val``
    (metadata ``pad_value``) for ``size``/``size_divisor``, 0 (the mean, in input
    channel order) before slide windows.

    Args:
        onnx_file (str): the exported model.
        test_cfg (dict, optional): the PyTorch model's ``test_cfg``: ``mode='whole'``
            or ``'slide'`` with ``crop_size`` and ``stride``.
        data_preprocessor (dict, optional): the PyTorch model's ``SegDataPreProcessor``
            config (mmengine's Runner passes the config's one along). Only its
            ``test_cfg`` (``size`` or ``size_divisor`` to pad test batches to) is used:
            colour conversion and mean/std are inside the graph.
        device (str): ``'cpu'`` or ``'cuda[:i]'`` (ONNX Runtime's CUDA provider when
            installed). Defaults to ``'cpu'``.
        num_threads (int, optional): ONNX Runtime intra-op threads; None uses
            ``torch.get_num_threads()``, so both backends run with the same threads.
        init_cfg (dict, optional): unused (no weights to initialise).

    Raises:
        ValueError: the file has no fcn_mm metadata, or its metadata says
            ``precision: int8`` but no weight of its graph is quantised.
    """

    def __init__(self, onnx_file: str, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None, device: str = 'cpu',
                 num_threads: Optional[int] = None, init_cfg: OptConfigType = None):
        super().__init__(data_preprocessor=BaseDataPreprocessor(), init_cfg=init_cfg)
        self.onnx_file = str(onnx_file)
        self.test_cfg = _check_test_cfg(dict(test_cfg or dict(mode='whole')))
        self.pad_cfg = dict((data_preprocessor or {}).get('test_cfg') or {})
        threads = torch.get_num_threads() if num_threads is None else num_threads
        self.session = create_session(self.onnx_file, providers_for_device(device), threads)
        self.metadata = parse_metadata(self.session.get_modelmeta().custom_metadata_map)
        # a file labelled int8 must hold quantised weights
        check_int8_file(self.onnx_file, self.metadata.get(PRECISION_KEY))
        inputs = self.session.get_inputs()
        if [i.name for i in inputs] != [INPUT_NAME]:
            raise ValueError(f'{self.onnx_file}: expected one input {INPUT_NAME!r}, got '
                             f'{[i.name for i in inputs]}')
        self.input_shape = list(inputs[0].shape)
        meta = self.metadata
        self.align_corners = bool(meta['align_corners'])
        threshold = meta.get('threshold')
        self._head = HeadSettings(int(meta['out_channels']), len(meta['classes']),
                                  self.align_corners,
                                  None if threshold is None else float(threshold))
        self.num_classes, self.out_channels = self._head.num_classes, self._head.out_channels
        self.register_buffer('pad_value', torch.tensor(meta['pad_value'],
                                                       dtype=torch.float32).view(3, 1, 1),
                             persistent=False)
        mean = [float(v) for v in meta['mean']] * (3 if len(meta['mean']) == 1 else 1)
        mean = mean[::-1] if meta['channel_conversion'] else mean
        self.register_buffer('slide_pad_value',
                             torch.tensor(mean, dtype=torch.float32).view(3, 1, 1),
                             persistent=False)

    @property
    def decode_head(self) -> HeadSettings:
        """Threshold / align_corners / channels (what post-processing and TTA read)."""
        return self._head

    @property
    def dataset_meta_from_file(self) -> Dict[str, list]:
        """``classes`` and ``palette`` stored in the ONNX file."""
        return dict(classes=tuple(self.metadata['classes']),
                    palette=self.metadata.get('palette'))

    def extract_feat(self, inputs: torch.Tensor):
        raise TypeError(f'{osp.basename(self.onnx_file)} is an exported graph: it returns '
                        'logits only, no backbone features')

    def loss(self, inputs: torch.Tensor, data_samples: SampleList):
        raise TypeError('an ONNXRuntimeSegmentor cannot be trained: train the PyTorch '
                        'model and export it again')

    def _run_graph(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) raw float batch -> (N, C, H, W) ``seg_logits`` from the graph."""
        n_fixed, _, h_fixed, w_fixed = (d if isinstance(d, int) else None
                                        for d in self.input_shape)
        height, width = batch.shape[2:]
        if (h_fixed, w_fixed) != (None, None) and (h_fixed, w_fixed) != (height, width):
            raise ValueError(
                f'{self.onnx_file} takes inputs of {h_fixed}x{w_fixed} only, got a '
                f'{height}x{width} batch: export with --dynamic (or --shape {height} '
                f'{width})')
        chunk = n_fixed or batch.shape[0]
        if batch.shape[0] % chunk:
            raise ValueError(f'{self.onnx_file} takes batches of {chunk}, got '
                             f'{batch.shape[0]} images: export with --dynamic')
        array = batch.detach().float().cpu().numpy()
        outputs = [self.session.run(['seg_logits'], {INPUT_NAME: array[i:i + chunk]})[0]
                   for i in range(0, array.shape[0], chunk)]
        return torch.from_numpy(np.concatenate(outputs, axis=0)).to(batch.device)

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Logits (N, C, H, W) at the input size of a raw (N, 3, H, W) batch."""
        return self._run_graph(inputs)

    def _forward(self, inputs: torch.Tensor, data_samples: OptSampleList = None):
        """mode='tensor': the graph's ``seg_logits`` (N, C, H, W) at the input size."""
        return self._run_graph(inputs)

    def _pad_raw(self, images: torch.Tensor, bottom: int, right: int,
                 value: torch.Tensor) -> torch.Tensor:
        """Pad (N, 3, H, W) at the bottom/right with the raw ``value`` (3, 1, 1)."""
        if not bottom and not right:
            return images
        padded = F.pad(images, (0, right, 0, bottom), value=0)
        height, width = images.shape[2:]
        value = value.to(images)
        padded[:, :, height:, :] = value
        padded[:, :, :, width:] = value
        return padded

    def stack_raw(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                  data_samples: OptSampleList) -> Tuple[torch.Tensor, OptSampleList]:
        """Stack raw (3, H, W) images, padded as the PyTorch preprocessor pads them.

        Args:
            inputs (Tensor | list[Tensor]): (N, 3, H, W) or a list of (3, H_i, W_i).
            data_samples (list[SegDataSample], optional): get ``img_padding_size``
                and ``pad_shape`` when padded.

        Returns:
            tuple[Tensor, list]: the (N, 3, H', W') float batch and the samples.
        """
        images = [img.float() for img in inputs]
        if any(img.dim() != 3 or img.shape[0] != 3 for img in images):
            raise ValueError('ONNXRuntimeSegmentor takes (3, H, W) images, got shapes '
                             f'{[tuple(img.shape) for img in images]}')
        if not self.pad_cfg:
            shapes = {tuple(img.shape) for img in images}
            if len(shapes) > 1:
                raise ValueError(f'test images of different sizes {sorted(shapes)} in one '
                                 'batch; use batch_size=1')
            return torch.stack(images), data_samples
        _, infos = stack_batch(images, None, self.pad_cfg.get('size'),
                               self.pad_cfg.get('size_divisor'))
        padded = [self._pad_raw(img[None], info['img_padding_size'][3],
                                info['img_padding_size'][1], self.pad_value)[0]
                  for img, info in zip(images, infos)]
        if data_samples is not None:
            for sample, info in zip(data_samples, infos):
                sample.set_metainfo(dict(info))
        return torch.stack(padded), data_samples

    def predict(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                data_samples: OptSampleList = None) -> SampleList:
        """Predictions at the original image size, as ``EncoderDecoder.predict``.

        Args:
            inputs (Tensor | list[Tensor]): raw images, (N, 3, H, W) or (3, H_i, W_i)
                each, in the pipeline's channel order.
            data_samples (list[SegDataSample], optional): metainfo (``ori_shape`` ...).

        Returns:
            list[SegDataSample]: with ``seg_logits`` and ``pred_sem_seg``.
        """
        batch, data_samples = self.stack_raw(inputs, data_samples)
        if data_samples is not None:
            metas = [sample.metainfo for sample in data_samples]
        else:
            shape = batch.shape[2:]
            metas = [dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                          padding_size=[0, 0, 0, 0])] * batch.shape[0]
        if self.test_cfg.get('mode', 'whole') == 'slide':
            seg_logits = self.slide_inference(batch, metas)
        else:
            seg_logits = self.encode_decode(batch, metas)
        return self.postprocess_result(seg_logits, data_samples)

    def slide_inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Sliding windows of ``test_cfg.crop_size`` every ``test_cfg.stride``.

        As ``EncoderDecoder.slide_inference``: images smaller than the crop are padded
        (here with the raw value of a normalised 0) to the crop size, all windows run in one graph
        call (or in chunks of a static batch size), overlaps are averaged, padding is
        cut off.

        Args:
            inputs (Tensor): (N, 3, H, W) raw.
            batch_img_metas (list[dict]): image metas.

        Returns:
            Tensor: (N, C, H, W).
        """
        crop_size, stride = tuple(self.test_cfg['crop_size']), tuple(self.test_cfg['stride'])
        batch_size, _, height, width = inputs.shape
        inputs = self._pad_raw(inputs, max(crop_size[0] - height, 0),
                               max(crop_size[1] - width, 0), self.slide_pad_value)
        full_h, full_w = inputs.shape[2:]
        windows = slide_windows(full_h, full_w, crop_size, stride)
        crops = torch.cat([inputs[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in windows], dim=0)
        logits = self._run_graph(crops)
        preds = inputs.new_zeros((batch_size, logits.shape[1], full_h, full_w))
        count = inputs.new_zeros((1, 1, full_h, full_w))
        for k, (y1, y2, x1, x2) in enumerate(windows):
            preds[:, :, y1:y2, x1:x2] += logits[k * batch_size:(k + 1) * batch_size]
            count[:, :, y1:y2, x1:x2] += 1
        return (preds / count)[:, :, :height, :width]


def onnxruntime_model_cfg(model_cfg: dict, onnx_file: str, device: str = 'cpu') -> dict:
    """The ``model`` config that runs ``onnx_file`` in place of ``model_cfg``.

    Keeps what inference needs from the PyTorch config: ``test_cfg`` (whole / slide)
    and the data preprocessor's test-time padding (``data_preprocessor.test_cfg``).

    Args:
        model_cfg (dict): the PyTorch ``model`` config (an EncoderDecoder).
        onnx_file (str): the exported file.
        device (str): ``'cpu'`` or ``'cuda[:i]'``.

    Returns:
        dict: ``dict(type='ONNXRuntimeSegmentor', ...)``.
    """
    if not str(onnx_file).endswith('.onnx'):
        raise ValueError(f'the onnxruntime backend runs an exported .onnx file, got '
                         f'{onnx_file!r} (export it with tools/deployment/pytorch2onnx.py)')
    return dict(type='ONNXRuntimeSegmentor', onnx_file=str(onnx_file),
                test_cfg=model_cfg.get('test_cfg'),
                data_preprocessor=model_cfg.get('data_preprocessor'), device=device)
