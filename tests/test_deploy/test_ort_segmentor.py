"""ONNXRuntimeSegmentor: the same predictions as the PyTorch model, with test-time padding,
slide windows (small images padded with the raw equivalent of fcn_mm's 0) and TTA."""
import copy
import subprocess
import sys

import pytest
import torch

from fcn_mm.deploy import ONNXRuntimeSegmentor, onnxruntime_model_cfg
from fcn_mm.registry import MODELS
from fcn_mm.structures import SegDataSample
from deploy_helpers import REPO

SLIDE = dict(mode='slide', crop_size=(64, 64), stride=(48, 48))


def _batch(shapes, ori_shapes, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for shape, ori in zip(shapes, ori_shapes):
        inputs.append(torch.randint(0, 256, (3,) + shape, generator=generator,
                                    dtype=torch.uint8))
        samples.append(SegDataSample(metainfo=dict(ori_shape=ori, img_shape=shape)))
    return dict(inputs=inputs, data_samples=samples)


def _run(model, data):
    with torch.no_grad():
        return model.test_step(copy.deepcopy(data))


def _max_rel_diff(a, b):
    diffs = [(x.seg_logits.data - y.seg_logits.data).abs().max() for x, y in zip(a, b)]
    scale = max(y.seg_logits.data.abs().max() for y in b)
    return float(max(diffs) / scale)


def _labels_agree(a, b):
    return min(float((x.pred_sem_seg.data == y.pred_sem_seg.data).float().mean())
               for x, y in zip(a, b))


@pytest.fixture
def pytorch_model(demo_model):
    """The demo model with test_cfg / data_preprocessor.test_cfg restored afterwards."""
    test_cfg, pad_cfg = demo_model.test_cfg, demo_model.data_preprocessor.test_cfg
    yield demo_model
    demo_model.test_cfg, demo_model.data_preprocessor.test_cfg = test_cfg, pad_cfg


def test_whole_mode_pads_like_the_preprocessor(pytorch_model, demo_onnx):
    pytorch_model.data_preprocessor.test_cfg = dict(size_divisor=32)
    segmentor = ONNXRuntimeSegmentor(
        demo_onnx[0], data_preprocessor=dict(type='SegDataPreProcessor',
                                             test_cfg=dict(size_divisor=32)))
    data = _batch([(97, 131), (97, 131)], [(120, 150), (97, 131)])
    ref, out = _run(pytorch_model, data), _run(segmentor, data)
    assert [tuple(s.seg_logits.shape) for s in out] == [(120, 150), (97, 131)]
    assert out[0].metainfo['pad_shape'] == (128, 160)
    assert _max_rel_diff(out, ref) <= 1e-3 and _labels_agree(out, ref) >= 0.999
    # padding the raw image with 0 (not the mean) would be visibly wrong
    segmentor.pad_value.zero_()
    assert _max_rel_diff(_run(segmentor, data), ref) > 1e-2


@pytest.mark.parametrize('shape', [(97, 131), (50, 40)], ids=['windows', 'smaller-than-crop'])
def test_slide_mode_runs_the_windows_through_the_graph(pytorch_model, demo_onnx, shape):
    pytorch_model.test_cfg = dict(SLIDE)
    segmentor = ONNXRuntimeSegmentor(demo_onnx[0], test_cfg=dict(SLIDE))
    data = _batch([shape], [shape], seed=3)
    calls = []
    run_graph = segmentor._run_graph
    segmentor._run_graph = lambda batch: calls.append(tuple(batch.shape)) or run_graph(batch)
    ref, out = _run(pytorch_model, data), _run(segmentor, data)
    windows = 6 if shape == (97, 131) else 1   # 3 x 2 windows of 64x64 / one padded one
    assert calls == [(windows, 3, 64, 64)]
    assert tuple(out[0].seg_logits.shape) == shape
    assert _max_rel_diff(out, ref) <= 1e-3 and _labels_agree(out, ref) >= 0.999
    if shape == (50, 40):
        segmentor.slide_pad_value.zero_()
        assert _max_rel_diff(_run(segmentor, data), ref) > 1e-2


def test_raw_pad_values(demo_model, demo_onnx):
    """pad_val p of the normalised image is p * std + mean in raw BGR; slide pads 0."""
    from fcn_mm.deploy import raw_pad_value
    segmentor = ONNXRuntimeSegmentor(demo_onnx[0])
    bgr_mean = [103.53, 116.28, 123.675]
    assert segmentor.pad_value.flatten().tolist() == pytest.approx(bgr_mean)
    assert segmentor.slide_pad_value.flatten().tolist() == pytest.approx(bgr_mean)
    preprocessor = demo_model.data_preprocessor
    try:
        preprocessor.pad_val = 1
        assert raw_pad_value(demo_model) == pytest.approx(
            [103.53 + 57.375, 116.28 + 57.12, 123.675 + 58.395])
    finally:
        preprocessor.pad_val = 0


def test_tta_model_wraps_the_onnx_segmentor(demo_model, demo_onnx):
    cfg = onnxruntime_model_cfg(demo_model.cfg.model, demo_onnx[0])
    ort_tta = MODELS.build(dict(type='SegTTAModel', module=cfg))
    torch_tta = MODELS.build(dict(type='SegTTAModel', module=demo_model))
    plain, flipped = _batch([(64, 80)], [(64, 80)], seed=5), _batch([(64, 80)], [(64, 80)], seed=5)
    flipped['inputs'] = [img.flip(-1) for img in flipped['inputs']]
    flipped['data_samples'][0].set_metainfo(dict(flip=True, flip_direction='horizontal'))
    # two views (plain, flipped) of one image
    data = dict(inputs=[plain['inputs'], flipped['inputs']],
                data_samples=[plain['data_samples'], flipped['data_samples']])
    ref, out = _run(torch_tta, data), _run(ort_tta, data)
    assert len(out) == 1 and tuple(out[0].seg_logits.data.shape) == (6, 64, 80)
    assert _max_rel_diff(out, ref) <= 1e-3 and _labels_agree(out, ref) >= 0.999
    single = _run(ONNXRuntimeSegmentor(demo_onnx[0]), plain)
    assert _max_rel_diff(single, ref) > 1e-3  # the flipped view counted


def test_model_config_from_the_pytorch_config(demo_model):
    model_cfg = copy.deepcopy(demo_model.cfg.model)
    model_cfg.test_cfg = dict(SLIDE)
    model_cfg.data_preprocessor.test_cfg = dict(size_divisor=16)
    cfg = onnxruntime_model_cfg(model_cfg, 'm.onnx')
    assert cfg == dict(type='ONNXRuntimeSegmentor', onnx_file='m.onnx', test_cfg=SLIDE,
                       data_preprocessor=model_cfg.data_preprocessor, device='cpu')
    assert cfg['data_preprocessor']['test_cfg'] == dict(size_divisor=16)
    with pytest.raises(ValueError, match=r"runs an exported \.onnx file, got 'm\.pth'"):
        onnxruntime_model_cfg(model_cfg, 'm.pth')


def test_cannot_train_and_has_no_features(demo_onnx):
    segmentor = ONNXRuntimeSegmentor(demo_onnx[0])
    data = _batch([(32, 32)], [(32, 32)])
    with pytest.raises(TypeError, match='cannot be trained'):
        segmentor(torch.zeros(1, 3, 32, 32), data['data_samples'], mode='loss')
    with pytest.raises(TypeError, match='returns logits only'):
        segmentor.extract_feat(torch.zeros(1, 3, 32, 32))
    logits = segmentor(torch.zeros(2, 3, 40, 56), mode='tensor')
    assert tuple(logits.shape) == (2, 6, 40, 56)


def test_not_an_fcn_mm_file_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such file'):
        ONNXRuntimeSegmentor(str(tmp_path / 'missing.onnx'))
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'not a model')
    with pytest.raises(ValueError, match='ONNX Runtime cannot load'):
        ONNXRuntimeSegmentor(str(bad))


def test_missing_onnxruntime_names_the_extra(demo_onnx, monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(ImportError, match=r"onnxruntime, which is not installed: "
                                          r"pip install -e '\.\[deploy\]'"):
        ONNXRuntimeSegmentor(demo_onnx[0])


def test_fcn_mm_imports_without_the_deploy_extra():
    code = '\n'.join([
        'import sys',
        "sys.modules.update(onnx=None, onnxruntime=None, onnxscript=None)",
        'import fcn_mm, fcn_mm.apis, fcn_mm.deploy',
        'from fcn_mm.utils import register_all_modules',
        'register_all_modules()',
        'from fcn_mm.registry import MODELS',
        "print(MODELS.get('ONNXRuntimeSegmentor').__name__, MODELS.get('EncoderDecoder').__name__)",
    ])
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ['ONNXRuntimeSegmentor', 'EncoderDecoder']
