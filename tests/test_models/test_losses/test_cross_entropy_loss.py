"""CrossEntropyLoss and accuracy against independent computations."""
import json
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fcn_mm.models.losses import accuracy
from fcn_mm.models.losses import cross_entropy_loss as ce_module
from fcn_mm.registry import MODELS

WEIGHTS = [0.5, 1.0, 2.0, 3.0]


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 4, 6, 7, generator=gen)
    label = torch.randint(0, 4, (2, 6, 7), generator=gen)
    label[0, :3] = 255
    label[1, :, :2] = 255
    return logits, label


def _reference(logits, label, weights=None):
    """Per-pixel w[y] * (-log softmax[y]) with python loops, 0 for ignored pixels."""
    log_p = torch.log_softmax(logits.double(), dim=1)
    total, weight_sum = 0.0, 0.0
    n, _, h, w = logits.shape
    for b in range(n):
        for i in range(h):
            for j in range(w):
                y = int(label[b, i, j])
                if y == 255:
                    continue
                wy = 1.0 if weights is None else weights[y]
                total += -wy * float(log_p[b, y, i, j])
                weight_sum += wy
    return total, weight_sum, n * h * w


def test_mean_over_all_pixels_by_default(batch):
    logits, label = batch
    loss = MODELS.build(dict(type='CrossEntropyLoss'))
    total, _, num_pixels = _reference(logits, label)
    value = loss(logits, label, ignore_index=255)
    assert value.item() == pytest.approx(total / num_pixels, rel=1e-5)


def test_class_weights_divide_by_the_weights_of_all_pixels_by_default(batch):
    """MMSegmentation 1.2.2: sum(w[y] CE) / sum(w[y]) over all pixels; fcn_mm counts an
    ignored pixel with weight 1 there (MMSegmentation raises an IndexError)."""
    logits, label = batch
    loss = MODELS.build(dict(type='CrossEntropyLoss', class_weight=WEIGHTS))
    total, weight_sum, _ = _reference(logits, label, WEIGHTS)
    num_ignored = int((label == 255).sum())
    assert num_ignored > 0
    value = loss(logits, label, ignore_index=255)
    assert value.item() == pytest.approx(total / (weight_sum + num_ignored), rel=1e-5)


@pytest.mark.parametrize('weights', [None, WEIGHTS])
def test_avg_non_ignore_divides_by_the_weights_of_valid_pixels(batch, weights):
    logits, label = batch
    loss = MODELS.build(dict(type='CrossEntropyLoss', class_weight=weights,
                             avg_non_ignore=True))
    total, weight_sum, _ = _reference(logits, label, weights)
    value = loss(logits, label, ignore_index=255)
    assert value.item() == pytest.approx(total / weight_sum, rel=1e-5)
    torch_ce = F.cross_entropy(logits, label, ignore_index=255,
                               weight=None if weights is None else torch.tensor(WEIGHTS))
    torch.testing.assert_close(value, torch_ce)


def test_reductions_and_loss_weight(batch):
    logits, label = batch
    total, _, _ = _reference(logits, label)
    loss = MODELS.build(dict(type='CrossEntropyLoss', reduction='sum', loss_weight=0.4))
    assert loss(logits, label, ignore_index=255).item() == pytest.approx(0.4 * total, rel=1e-5)
    per_pixel = loss(logits, label, ignore_index=255, reduction_override='none')
    assert per_pixel.shape == label.shape and torch.all(per_pixel[label == 255] == 0)


@pytest.mark.parametrize('suffix', ['.npy', '.json'])
def test_class_weight_from_file(tmp_path, batch, suffix):
    path = tmp_path / f'weights{suffix}'
    if suffix == '.npy':
        np.save(path, np.array(WEIGHTS, dtype=np.float32))
    else:
        path.write_text(json.dumps(WEIGHTS))
    from_file = MODELS.build(dict(type='CrossEntropyLoss', class_weight=str(path)))
    assert from_file.class_weight == pytest.approx(WEIGHTS)
    logits, label = batch
    from_list = MODELS.build(dict(type='CrossEntropyLoss', class_weight=WEIGHTS))
    torch.testing.assert_close(from_file(logits, label, ignore_index=255),
                               from_list(logits, label, ignore_index=255))


def test_class_weight_errors(tmp_path, batch):
    with pytest.raises(FileNotFoundError, match='missing.npy'):
        MODELS.build(dict(type='CrossEntropyLoss', class_weight=str(tmp_path / 'missing.npy')))
    bad = tmp_path / 'w.txt'
    bad.write_text('1 2')
    with pytest.raises(ValueError, match=r'\.npy or \.json'):
        MODELS.build(dict(type='CrossEntropyLoss', class_weight=str(bad)))
    loss = MODELS.build(dict(type='CrossEntropyLoss', class_weight=[1.0, 2.0]))
    with pytest.raises(ValueError, match='2 entries but the head predicts 4'):
        loss(*batch, ignore_index=255)


def test_avg_non_ignore_warning_is_given_once_per_process(monkeypatch):
    monkeypatch.setattr(ce_module, '_WARNED_AVG_NON_IGNORE', False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for _ in range(3):
            MODELS.build(dict(type='CrossEntropyLoss'))
        MODELS.build(dict(type='CrossEntropyLoss', avg_non_ignore=True))
    assert sum('avg_non_ignore' in str(w.message) for w in caught) == 1


def test_explicit_avg_non_ignore_false_is_silent_and_keeps_the_rule(monkeypatch, batch):
    monkeypatch.setattr(ce_module, '_WARNED_AVG_NON_IGNORE', False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        explicit = MODELS.build(dict(type='CrossEntropyLoss', avg_non_ignore=False))
    assert not [w for w in caught if 'avg_non_ignore' in str(w.message)]
    with warnings.catch_warnings(record=True):
        warnings.simplefilter('always')
        default = MODELS.build(dict(type='CrossEntropyLoss'))
    assert explicit.avg_non_ignore is False and default.avg_non_ignore is False
    logits, label = batch
    torch.testing.assert_close(explicit(logits, label, ignore_index=255),
                               default(logits, label, ignore_index=255))


def test_sigmoid_binary_head_matches_bce(batch):
    _, label = batch
    logits = torch.randn(2, 1, 6, 7)
    binary_label = label.clone()
    binary_label[(label != 255) & (label > 1)] = 1
    loss = MODELS.build(dict(type='CrossEntropyLoss', use_sigmoid=True))
    valid = binary_label != 255
    per_pixel = F.binary_cross_entropy_with_logits(
        logits[:, 0], (binary_label == 1).float(), reduction='none') * valid
    torch.testing.assert_close(loss(logits, binary_label, ignore_index=255),
                               per_pixel.sum() / valid.numel())
    with pytest.raises(ValueError, match='use_sigmoid and use_mask'):
        MODELS.build(dict(type='CrossEntropyLoss', use_sigmoid=True, use_mask=True))
    with pytest.raises(ValueError, match=r'labels in \{0, 1\}.*\[0, 1, 2, 3\]'):
        loss(logits, label, ignore_index=255)


def test_mask_cross_entropy_needs_roi_labels_and_no_ignore_index(batch):
    logits, label = batch
    loss = MODELS.build(dict(type='CrossEntropyLoss', use_mask=True))
    with pytest.raises(ValueError, match='roi_labels'):
        loss(logits, label.float(), ignore_index=255)   # how a decode head calls it
    with pytest.raises(ValueError, match='ignore_index=None'):
        loss(logits, label.float(), torch.tensor([0, 1]), ignore_index=255)


def test_accuracy_percent_ignoring_ignore_index(batch):
    logits, label = batch
    valid = label != 255
    expected = (logits.argmax(1)[valid] == label[valid]).sum().item() * 100 / valid.sum().item()
    acc = accuracy(logits, label, ignore_index=255)
    assert acc.shape == (1,) and acc.item() == pytest.approx(expected, rel=1e-5)
    perfect = F.one_hot(label.clamp(max=3), 4).permute(0, 3, 1, 2).float()
    assert accuracy(perfect, label, ignore_index=255).item() == pytest.approx(100.0)
    top1, top4 = accuracy(logits, label, topk=(1, 4), ignore_index=255)
    assert top4.item() == pytest.approx(100.0) and top1.item() == pytest.approx(expected)
    all_ignored = torch.full_like(label, 255)
    assert accuracy(logits, all_ignored, ignore_index=255).item() == 0.0
