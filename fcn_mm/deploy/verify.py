"""Compare an exported ONNX file run by ONNX Runtime with the PyTorch model's ``predict``."""
import copy
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from fcn_mm.registry import DATASETS
from .metadata import INPUT_NAME
from .ort_session import create_session

__all__ = ['VerifyResult', 'pytorch_reference', 'verify_onnx', 'verify_inputs',
           'synthetic_image', 'first_test_image', 'format_verify_table',
           'onnx_label_agreement']

LOGIT_RTOL = 1e-3
MIN_LABEL_AGREEMENT = 0.999


@dataclass
class VerifyResult:
    """One input's comparison.

    Attributes:
        name (str): what the input is.
        shape (tuple): (N, 3, H, W).
        max_abs_diff (float): largest |ONNX - PyTorch| of ``seg_logits``.
        logit_scale (float): largest |PyTorch seg_logits|.
        label_agreement (float): fraction of pixels with the same label, 0..1.
    """
    name: str
    shape: Tuple[int, ...]
    max_abs_diff: float
    logit_scale: float
    label_agreement: float

    @property
    def relative_diff(self) -> float:
        """``max_abs_diff`` in units of the logit scale."""
        return self.max_abs_diff / max(self.logit_scale, 1e-12)

    @property
    def passed(self) -> bool:
        """Logits within 1e-3 of the logit scale and >= 99.9% of the labels equal."""
        return (self.relative_diff <= LOGIT_RTOL
                and self.label_agreement >= MIN_LABEL_AGREEMENT)


def pytorch_reference(segmentor: nn.Module, images: torch.Tensor
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """``seg_logits`` (N, C, H, W) and labels (N, H, W) of fcn_mm's ``predict``.

    Args:
        segmentor (nn.Module): the PyTorch segmentor, in eval mode.
        images (Tensor): (N, 3, H, W) raw images (pipeline channel order).

    Returns:
        tuple[np.ndarray, np.ndarray]: float32 logits and int64 labels.
    """
    device = next(iter(segmentor.parameters()), torch.empty(0)).device
    with torch.no_grad():
        data = segmentor.data_preprocessor(dict(inputs=list(images.to(device))), False)
        samples = segmentor.predict(data['inputs'])
    logits = torch.stack([s.seg_logits.data for s in samples]).float().cpu().numpy()
    labels = torch.stack([s.pred_sem_seg.data[0] for s in samples]).long().cpu().numpy()
    return logits, labels


def verify_onnx(segmentor: nn.Module, onnx_file: str,
                inputs: Dict[str, torch.Tensor],
                num_threads: Optional[int] = None) -> List[VerifyResult]:
    """Run ``onnx_file`` with ONNX Runtime and ``segmentor.predict`` on each input.

    Args:
        segmentor (nn.Module): the exported PyTorch segmentor.
        onnx_file (str): the ONNX file.
        inputs (dict[str, Tensor]): name -> (N, 3, H, W) raw images.
        num_threads (int, optional): ONNX Runtime threads; ``torch.get_num_threads()``
            by default.

    Returns:
        list[VerifyResult]: one per input.
    """
    session = create_session(onnx_file, num_threads=num_threads or torch.get_num_threads())
    output_names = [o.name for o in session.get_outputs()]
    results = []
    for name, images in inputs.items():
        ref_logits, ref_labels = pytorch_reference(segmentor, images)
        outputs = dict(zip(output_names, session.run(
            None, {INPUT_NAME: images.float().cpu().numpy()})))
        logits = outputs['seg_logits']
        if logits.shape != ref_logits.shape:
            raise AssertionError(f'{name}: ONNX seg_logits have shape {logits.shape}, '
                                 f'PyTorch {ref_logits.shape}')
        binary = logits.shape[1] == 1
        if binary:  # predict reports the sigmoid of a binary head
            logits = 1 / (1 + np.exp(-logits))
        if 'labels' in outputs:
            labels = outputs['labels']
        elif binary:
            labels = (logits[:, 0] > segmentor.decode_head.threshold).astype(np.int64)
        else:
            labels = logits.argmax(axis=1)
        results.append(VerifyResult(
            name, tuple(images.shape), float(np.abs(logits - ref_logits).max()),
            float(np.abs(ref_logits).max()), float((labels == ref_labels).mean())))
    return results


def synthetic_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A (3, H, W) raw image of flat-coloured rectangles on a gradient (for verifying).

    Args:
        height (int): H.
        width (int): W.
        seed (int): random seed of the rectangles. Defaults to 0.

    Returns:
        Tensor: float32 values in 0..255.
    """
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    img = np.stack([ys * 255.0 / max(height - 1, 1), xs * 255.0 / max(width - 1, 1),
                    np.full((height, width), 96.0)])
    for _ in range(4):
        y0, x0 = rng.integers(0, height), rng.integers(0, width)
        h, w = rng.integers(height // 8 + 1, height // 2 + 2), \
            rng.integers(width // 8 + 1, width // 2 + 2)
        img[:, y0:y0 + h, x0:x0 + w] = rng.integers(0, 256, (3, 1, 1))
    return torch.from_numpy(img.astype(np.float32))


def first_test_image(cfg: Config) -> Optional[Tuple[str, torch.Tensor]]:
    """The config's first test image after its test pipeline, if the data is there.

    Args:
        cfg (Config): a config with ``test_dataloader.dataset`` (default scope fcn_mm).

    Returns:
        tuple[str, Tensor] | None: (name, (3, H, W) raw float image), or None when
        the data set cannot be read (e.g. not prepared yet).
    """
    dataset_cfg = ((cfg.get('test_dataloader') or {}).get('dataset'))
    if not dataset_cfg:
        return None
    try:
        dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
        if len(dataset) == 0:
            return None
        sample = dataset[0]
    except (FileNotFoundError, OSError, ValueError):
        return None
    name = osp.basename(sample['data_samples'].metainfo.get('img_path') or 'image 0')
    return f'test image {name}', sample['inputs'].float()


def verify_inputs(shape: Sequence[int], dynamic: bool,
                  test_image: Optional[Tuple[str, torch.Tensor]] = None,
                  batch_size: int = 1, seed: int = 0) -> Dict[str, torch.Tensor]:
    """The inputs ``--verify`` runs: a test image and random images.

    Args:
        shape (Sequence[int]): export (H, W).
        dynamic (bool): a dynamic export also gets random sizes and a batch of 2.
        test_image (tuple[str, Tensor], optional): (name, (3, H, W) raw image); a
            synthetic image when None. A static export resizes it to ``shape``.
        batch_size (int): N of a static export.
        seed (int): random seed.

    Returns:
        dict[str, Tensor]: name -> (N, 3, H, W) raw float images.
    """
    height, width = (int(s) for s in shape)
    name, image = test_image or ('synthetic image', synthetic_image(height, width, seed))
    if not dynamic and tuple(image.shape[1:]) != (height, width):
        image = torch.nn.functional.interpolate(image[None].float(), size=(height, width),
                                                mode='bilinear', align_corners=False)[0]
        image = image.round().clamp(0, 255)
        name = f'{name} (resized)'
    generator = torch.Generator().manual_seed(seed)
    inputs = {name: image[None].float().expand(1 if dynamic else batch_size, -1, -1, -1)}
    if dynamic:
        for n in (1, 2):
            h, w = (int(v) for v in torch.randint(max(height // 2, 33), height + 64, (2,),
                                                  generator=generator))
            inputs[f'random {n}x3x{h}x{w}'] = torch.rand((n, 3, h, w),
                                                         generator=generator) * 255
    else:
        inputs['random'] = torch.rand((batch_size, 3, height, width), generator=generator) * 255
    return inputs


def format_verify_table(results: Sequence[VerifyResult]) -> str:
    """A text table of :class:`VerifyResult` rows (with the pass criteria)."""
    header = (f'{"input":<34} {"shape":<20} {"max |diff|":>11} {"logit scale":>12} '
              f'{"diff/scale":>11} {"labels equal":>13}')
    lines = [header, '-' * len(header)]
    for r in results:
        lines.append(f'{r.name[:34]:<34} {str(r.shape):<20} {r.max_abs_diff:>11.3g} '
                     f'{r.logit_scale:>12.4g} {r.relative_diff:>11.3g} '
                     f'{100 * r.label_agreement:>12.3f}% {"ok" if r.passed else "FAIL"}')
    lines.append(f'(pass: diff/scale <= {LOGIT_RTOL:g} and labels equal >= '
                 f'{100 * MIN_LABEL_AGREEMENT:g}%)')
    return '\n'.join(lines)


def onnx_label_agreement(reference_file: str, other_file: str,
                         images: Sequence[torch.Tensor],
                         num_threads: Optional[int] = None) -> float:
    """Fraction of pixels where two exported files predict the same label.

    Used to compare an int8 file with the float32 file it was quantised from.

    Args:
        reference_file (str): e.g. the float32 file.
        other_file (str): e.g. the int8 file.
        images (Sequence[Tensor]): (3, H_i, W_i) raw images the graphs accept.
        num_threads (int, optional): ONNX Runtime threads; torch's by default.

    Returns:
        float: 0..1 over all pixels of all images.
    """
    threads = num_threads or torch.get_num_threads()
    sessions = [create_session(f, num_threads=threads) for f in (reference_file, other_file)]
    equal, total = 0, 0
    for image in images:
        feed = {INPUT_NAME: image[None].float().numpy()}
        logits = [s.run(['seg_logits'], feed)[0] for s in sessions]
        # a binary head (C = 1): the sign of the logit (threshold 0.5 on the sigmoid)
        labels = [x[:, 0] > 0 if x.shape[1] == 1 else x.argmax(axis=1) for x in logits]
        equal += int((labels[0] == labels[1]).sum())
        total += labels[0].size
    return equal / max(total, 1)
