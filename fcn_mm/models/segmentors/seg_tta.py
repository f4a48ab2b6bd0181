"""SegTTAModel: merges the predictions of test-time-augmented views."""
from typing import List

import torch
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData

from fcn_mm.registry import MODELS
from fcn_mm.structures import SegDataSample
from fcn_mm.utils.typing_utils import SampleList

__all__ = ['SegTTAModel']


@MODELS.register_module()
class SegTTAModel(BaseTTAModel):
    """Test-time augmentation wrapper (``tta_model = dict(type='SegTTAModel')``).

    mmengine's ``BaseTTAModel.test_step`` runs the wrapped segmentor on every view
    (each view's ``predict`` already crops padding, undoes the flip and resizes to
    ``ori_shape``); :meth:`merge_preds` averages the views' class probabilities
    (softmax, as MMSegmentation; for a single-channel head the views' sigmoid
    probabilities) and takes the argmax (or the threshold).

    Args:
        module (dict | nn.Module): the segmentor (config or instance).
        data_preprocessor (dict | nn.Module, optional): overrides the module's one.
    """

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        """Merge the views of each image.

        Args:
            data_samples_list (list[list[SegDataSample]]): per image, the
                predictions of its views, each with ``seg_logits`` (C, H0, W0).

        Returns:
            list[SegDataSample]: per image, ``seg_logits`` = mean probabilities
            (C, H0, W0), ``pred_sem_seg`` (1, H0, W0), the first view's metainfo and
            ``gt_sem_seg`` when present.
        """
        predictions = []
        for views in data_samples_list:
            probs = torch.stack([self._probabilities(v.seg_logits.data) for v in views])
            probs = probs.mean(dim=0)
            if probs.shape[0] > 1:
                pred = probs.argmax(dim=0, keepdim=True)
            else:
                pred = (probs > self.module.decode_head.threshold).to(probs)
            merged = SegDataSample(metainfo=views[0].metainfo)
            merged.seg_logits = PixelData(data=probs)
            merged.pred_sem_seg = PixelData(data=pred)
            if 'gt_sem_seg' in views[0]:
                merged.gt_sem_seg = views[0].gt_sem_seg
            predictions.append(merged)
        return predictions

    @staticmethod
    def _probabilities(seg_logits: torch.Tensor) -> torch.Tensor:
        """(C, H, W) -> probabilities; single-channel outputs are already sigmoid-ed."""
        return seg_logits.softmax(dim=0) if seg_logits.shape[0] > 1 else seg_logits
