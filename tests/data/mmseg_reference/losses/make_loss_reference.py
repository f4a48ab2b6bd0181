"""Reference values and input gradients of MMSegmentation 1.2.2's losses and OHEM sampler.

Run with the MMSegmentation venv, PYTHONPATH unset, from anywhere:

    env -u PYTHONPATH /tmp/mmseg122/venv/bin/python \
        tests/data/mmseg_reference/losses/make_loss_reference.py

Writes beside this script:

* ``inputs.npz``: the fixed float32 inputs (logits (2, 4, 7, 9) and (2, 1, 7, 9), labels
  with and without ignored pixels (255), a 0/1 pixel weight, instance-mask inputs);
* ``reference.npz``: ``<case>/value`` (loss) and ``<case>/grad`` (d loss / d logits),
  ``sampler/<case>`` (the OHEM sampler's kept mask);
* ``cases.json``: per case the fcn_mm loss config (MMSegmentation's keys), the inputs it
  takes, the call arguments, and how the reference was computed (``path``); ``options``:
  every ``__init__`` argument of MMSegmentation's loss classes and OHEMPixelSampler
  (but ``context``), with its default.

Where MMSegmentation 1.2.2 cannot compute a case on CPU with mmcv-lite, or computes
something other than its own documented semantics, the reference is computed through
MMSegmentation's own functions on the inputs that express those semantics; ``path``
says which:

* FocalLoss: ``FocalLoss.forward`` on CPU fails for every label input (C > 1: it takes
  the one-hot column ``num_classes``, always 0, and then cannot broadcast (M,) against
  (M, C); C = 1: BCE of (M, 1) logits against (M,) targets); its CUDA path calls mmcv's
  compiled ``sigmoid_focal_loss`` op, absent in mmcv-lite. The reference is
  ``mmseg.models.losses.focal_loss.py_sigmoid_focal_loss`` (MMSegmentation's pure-Python
  form of the same op) on the one-hot targets (label 1 for C = 1) and the valid mask,
  as the CUDA path passes them to the op.
* DiceLoss with ignored pixels: MMSegmentation drops the *channel* numbered 255 (none),
  so ignored pixels still count in ``sum(p^2)``. The reference is ``DiceLoss(activate=
  False)`` on the probabilities and one-hot targets with the ignored pixels zeroed.
  DiceLoss with a single-channel head: MMSegmentation's target is ``label == 0``; the
  reference passes the target ``label == 1`` explicitly.
* CrossEntropyLoss with class_weight and ignored pixels raises an IndexError in
  MMSegmentation 1.2.2 (it looks up ``class_weight[255]`` before it masks the ignored
  pixels). With avg_non_ignore=True the reference is ``CrossEntropyLoss.forward`` with
  ``avg_factor`` set to what that code means, the sum of ``class_weight[label]`` over the
  non-ignored pixels; avg_non_ignore=False has no case (fcn_mm's rule there is its own,
  tested against a direct computation in test_cross_entropy_loss.py).
"""
import inspect
import json
import os
import os.path as osp

import numpy as np
import torch
import torch.nn.functional as F

from mmseg.models.losses import (CrossEntropyLoss, DiceLoss, FocalLoss, LovaszLoss,
                                 OhemCrossEntropy, TverskyLoss)
from mmseg.models.losses.focal_loss import py_sigmoid_focal_loss
from mmseg.structures.sampler import OHEMPixelSampler

HERE = osp.dirname(osp.abspath(__file__))
CLASS_WEIGHT = [0.5, 1.0, 2.0, 1.5]


def make_inputs():
    gen = torch.Generator().manual_seed(20240)
    n, c, h, w = 2, 4, 7, 9
    inputs = {
        'logits4': torch.randn(n, c, h, w, generator=gen, dtype=torch.float32) * 2,
        'logits1': torch.randn(n, 1, h, w, generator=gen, dtype=torch.float32) * 2,
        'labels4': torch.randint(0, c, (n, h, w), generator=gen),
        'labels2': torch.randint(0, 2, (n, h, w), generator=gen),
        'pixel_weight': (torch.rand(n, h, w, generator=gen) > 0.4).float(),
        'mask_logits': torch.randn(3, c, h, w, generator=gen, dtype=torch.float32),
        'mask_targets': (torch.rand(3, h, w, generator=gen) > 0.5).float(),
        'roi_labels': torch.tensor([2, 0, 3]),
    }
    ignored = torch.zeros(n, h, w, dtype=torch.bool)
    ignored[0, 0] = True               # a row of image 0
    ignored[1, 2:5, 3:7] = True        # a block of image 1
    ignored[1, 6, 8] = True
    for key in ('labels4', 'labels2'):
        inputs[key + '_ign'] = inputs[key].masked_fill(ignored, 255)
    return inputs


CASES = []


def case(name, loss, logits, labels, call=None, path='forward'):
    CASES.append(dict(name=name, loss=loss, logits=logits, labels=labels,
                      call=call or {}, path=path))


def build_cases():
    for ign in ('', '_ign'):
        tag = 'ign' if ign else 'noign'
        lab4, lab2 = 'labels4' + ign, 'labels2' + ign
        # CrossEntropyLoss, softmax
        for avg in (False, True):
            for cw in (None, CLASS_WEIGHT):
                if cw is not None and ign and not avg:
                    continue  # IndexError in MMSegmentation 1.2.2 (see the docstring)
                cfg = dict(type='CrossEntropyLoss', avg_non_ignore=avg)
                if cw is not None:
                    cfg['class_weight'] = cw
                case(f'ce_{tag}_avg{int(avg)}_cw{int(cw is not None)}', cfg, 'logits4', lab4,
                     dict(ignore_index=255),
                     'ce_valid_weight_sum' if cw is not None and ign else 'forward')
        case(f'ce_{tag}_sum_lw', dict(type='CrossEntropyLoss', reduction='sum',
                                      loss_weight=0.5, avg_non_ignore=False),
             'logits4', lab4, dict(ignore_index=255))
        case(f'ce_{tag}_pixel_weight', dict(type='CrossEntropyLoss', avg_non_ignore=True),
             'logits4', lab4, dict(ignore_index=255, weight='pixel_weight'))
        # CrossEntropyLoss, sigmoid
        for avg in (False, True):
            case(f'bce4_{tag}_avg{int(avg)}',
                 dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=avg),
                 'logits4', lab4, dict(ignore_index=255))
            case(f'bce1_{tag}_avg{int(avg)}',
                 dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=avg),
                 'logits1', lab2, dict(ignore_index=255))
        case(f'bce1_{tag}_posweight',
             dict(type='CrossEntropyLoss', use_sigmoid=True, class_weight=[2.5],
                  avg_non_ignore=True), 'logits1', lab2, dict(ignore_index=255))
        # DiceLoss
        dice_path = 'masked_probabilities' if ign else 'forward'
        for sig in (True, False):
            for naive in (False, True):
                case(f'dice4_{tag}_sig{int(sig)}_naive{int(naive)}',
                     dict(type='DiceLoss', use_sigmoid=sig, naive_dice=naive),
                     'logits4', lab4, dict(ignore_index=255), dice_path)
        case(f'dice4_{tag}_eps_lw', dict(type='DiceLoss', use_sigmoid=False, eps=0.5,
                                         loss_weight=2.0, loss_name='loss_d'),
             'logits4', lab4, dict(ignore_index=255), dice_path)
        case(f'dice1_{tag}', dict(type='DiceLoss', use_sigmoid=True), 'logits1', lab2,
             dict(ignore_index=255), 'masked_probabilities')
        # FocalLoss (sigmoid)
        for alpha, cw in ((0.5, None), (0.25, CLASS_WEIGHT), ([0.2, 0.4, 0.6, 0.8], None)):
            name = f'focal4_{tag}_a{alpha if isinstance(alpha, float) else "list"}' \
                   f'_cw{int(cw is not None)}'
            cfg = dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=alpha)
            if cw is not None:
                cfg['class_weight'] = cw
            case(name, cfg, 'logits4', lab4, dict(ignore_index=255), 'py_sigmoid_focal_loss')
        case(f'focal4_{tag}_g1_sum', dict(type='FocalLoss', gamma=1.0, alpha=0.5,
                                          reduction='sum', loss_weight=0.5),
             'logits4', lab4, dict(ignore_index=255), 'py_sigmoid_focal_loss')
        case(f'focal1_{tag}', dict(type='FocalLoss', gamma=2.0, alpha=0.25),
             'logits1', lab2, dict(ignore_index=255), 'py_sigmoid_focal_loss')
        # LovaszLoss
        for per_image in (False, True):
            red = 'mean' if per_image else 'none'
            for classes, cw in (('present', None), ('all', CLASS_WEIGHT), ([0, 2], None)):
                cname = classes if isinstance(classes, str) else 'list'
                cfg = dict(type='LovaszLoss', loss_type='multi_class', classes=classes,
                           per_image=per_image, reduction=red)
                if cw is not None:
                    cfg['class_weight'] = cw
                case(f'lovasz4_{tag}_pi{int(per_image)}_{cname}', cfg, 'logits4', lab4,
                     dict(ignore_index=255))
            case(f'lovasz1_{tag}_pi{int(per_image)}',
                 dict(type='LovaszLoss', loss_type='binary', per_image=per_image,
                      reduction=red), 'logits1', lab2, dict(ignore_index=255))
        case(f'lovasz4_{tag}_pi1_sum', dict(type='LovaszLoss', per_image=True,
                                            reduction='sum', loss_weight=0.5),
             'logits4', lab4, dict(ignore_index=255))
        # TverskyLoss
        for alpha, beta, smooth, cw in ((0.3, 0.7, 1, None), (0.5, 0.5, 0.1, CLASS_WEIGHT)):
            cfg = dict(type='TverskyLoss', alpha=alpha, beta=beta, smooth=smooth)
            if cw is not None:
                cfg['class_weight'] = cw
            case(f'tversky4_{tag}_a{alpha}_cw{int(cw is not None)}', cfg, 'logits4', lab4,
                 dict(ignore_index=255))
        # OhemCrossEntropy
        for thres, min_kept, cw in ((0.7, 20, None), (0.05, 30, None), (0.7, 20, CLASS_WEIGHT)):
            cfg = dict(type='OhemCrossEntropy', thres=thres, min_kept=min_kept)
            if cw is not None:
                cfg['class_weight'] = cw
            case(f'ohemce4_{tag}_t{thres}_k{min_kept}_cw{int(cw is not None)}', cfg,
                 'logits4', lab4)
    case('mask_ce', dict(type='CrossEntropyLoss', use_mask=True), 'mask_logits',
         'mask_targets', dict(weight='roi_labels', ignore_index=None))


MMSEG_LOSSES = dict(CrossEntropyLoss=CrossEntropyLoss, DiceLoss=DiceLoss, FocalLoss=FocalLoss,
                    LovaszLoss=LovaszLoss, TverskyLoss=TverskyLoss,
                    OhemCrossEntropy=OhemCrossEntropy)


def _kwargs(cfg):
    return {k: v for k, v in cfg.items() if k != 'type'}


def run_case(spec, inputs):
    cfg = spec['loss']
    logits = inputs[spec['logits']].clone().requires_grad_(True)
    labels = inputs[spec['labels']]
    call = {k: inputs[v] if isinstance(v, str) else v for k, v in spec['call'].items()}
    path = spec['path']
    if path == 'forward':
        loss = MMSEG_LOSSES[cfg['type']](**_kwargs(cfg))
        value = loss(logits, labels, **call)
    elif path == 'ce_valid_weight_sum':       # class_weight[label] summed where valid
        loss = CrossEntropyLoss(**_kwargs(cfg))
        valid = labels != 255
        weights = torch.tensor(cfg['class_weight'])[labels.clamp(0, 3)]
        value = loss(logits, labels, avg_factor=weights[valid].sum(), **call)
    elif path == 'masked_probabilities':      # DiceLoss on the non-ignored pixels
        kwargs = _kwargs(cfg)
        use_sigmoid = kwargs.get('use_sigmoid', True)
        loss = DiceLoss(**dict(kwargs, activate=False))
        probs = logits.sigmoid() if use_sigmoid or logits.size(1) == 1 \
            else logits.softmax(dim=1)
        valid = (labels != 255).unsqueeze(1).float()
        if logits.size(1) == 1:
            target = (labels == 1).unsqueeze(1).float()
        else:
            target = F.one_hot(labels.clamp(0, logits.size(1)), logits.size(1) + 1)
            target = target[..., :logits.size(1)].permute(0, 3, 1, 2).float()
        value = loss(probs * valid, target * valid)
    elif path == 'py_sigmoid_focal_loss':      # what the CUDA op path computes
        kwargs = _kwargs(cfg)
        num_classes = logits.size(1)
        flat = logits.transpose(0, 1).reshape(num_classes, -1).transpose(0, 1)
        flat_label = labels.reshape(-1)
        valid = (flat_label != 255).view(-1, 1)
        flat_label = torch.where(flat_label == 255, flat_label.new_tensor(0), flat_label)
        if num_classes == 1:   # the CUDA path: label 1 is the positive
            one_hot = flat_label.view(-1, 1)
        else:
            one_hot = F.one_hot(flat_label, num_classes + 1)[:, :num_classes]
        value = kwargs.get('loss_weight', 1.0) * py_sigmoid_focal_loss(
            flat, one_hot, None, None, gamma=kwargs.get('gamma', 2.0),
            alpha=kwargs.get('alpha', 0.5), class_weight=kwargs.get('class_weight'),
            valid_mask=valid, reduction=kwargs.get('reduction', 'mean'))
    else:
        raise ValueError(path)
    value.backward()
    return value.item(), logits.grad.numpy()


class _Context:
    """The decode-head attributes OHEMPixelSampler reads."""

    def __init__(self, loss_decode):
        self.ignore_index = 255
        self.loss_decode = loss_decode


SAMPLER_CASES = [
    dict(name='thresh0.7_k10', thresh=0.7, min_kept=10, logits='logits4', labels='labels4_ign'),
    dict(name='thresh0.2_k40', thresh=0.2, min_kept=40, logits='logits4', labels='labels4_ign'),
    dict(name='topk_k15', thresh=None, min_kept=15, logits='logits4', labels='labels4_ign'),
    dict(name='topk_k15_noign', thresh=None, min_kept=15, logits='logits4', labels='labels4'),
]


def run_sampler(spec, inputs):
    context = _Context(CrossEntropyLoss(avg_non_ignore=False))
    sampler = OHEMPixelSampler(context, thresh=spec['thresh'], min_kept=spec['min_kept'])
    return sampler.sample(inputs[spec['logits']], inputs[spec['labels']].unsqueeze(1)).numpy()


def _options(cls):
    """Config keys of a class: its ``__init__`` arguments and their defaults."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return {p.name: (None if p.default is inspect.Parameter.empty else p.default)
            for p in params if p.name != 'context'}


def main():
    torch.use_deterministic_algorithms(True)
    inputs = make_inputs()
    build_cases()
    out = {}
    for spec in CASES:
        value, grad = run_case(spec, inputs)
        out[spec['name'] + '/value'] = np.float64(value)
        out[spec['name'] + '/grad'] = grad
    for spec in SAMPLER_CASES:
        out['sampler/' + spec['name']] = run_sampler(spec, inputs).astype(np.uint8)
    np.savez_compressed(osp.join(HERE, 'inputs.npz'),
                        **{k: v.numpy() for k, v in inputs.items()})
    np.savez_compressed(osp.join(HERE, 'reference.npz'), **out)
    import mmseg
    options = {name: _options(cls) for name, cls in
               dict(MMSEG_LOSSES, OHEMPixelSampler=OHEMPixelSampler).items()}
    with open(osp.join(HERE, 'cases.json'), 'w') as f:
        json.dump(dict(mmseg_version=mmseg.__version__, torch_version=torch.__version__,
                       class_weight=CLASS_WEIGHT, options=options, cases=CASES,
                       sampler_cases=SAMPLER_CASES), f, indent=1)
    print(f'{len(CASES)} loss cases, {len(SAMPLER_CASES)} sampler cases -> {HERE}')
    for name in sorted(os.listdir(HERE)):
        print(f'  {name}: {osp.getsize(osp.join(HERE, name))} bytes')


if __name__ == '__main__':
    main()
