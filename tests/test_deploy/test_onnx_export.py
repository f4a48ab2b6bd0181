"""The exported graph: its interface, its metadata, and its values against fcn_mm's predict."""
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from fcn_mm.deploy import ONNXRuntimeSegmentor, export_onnx

SHAPES = [(1, 3, 128, 128), (2, 3, 97, 131), (1, 3, 480, 480)]


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])


def _raw_images(shape, seed=0):
    """uint8 images as the pipeline delivers them (BGR, 0..255)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)


def _predict(model, images):
    """fcn_mm's own path: test_step = SegDataPreProcessor + predict (no deploy code)."""
    with torch.no_grad():
        samples = model.test_step(dict(inputs=list(images)))
    logits = torch.stack([s.seg_logits.data for s in samples]).numpy()
    labels = torch.stack([s.pred_sem_seg.data[0] for s in samples]).numpy()
    return logits, labels


def test_graph_interface(demo_onnx):
    path, result = demo_onnx
    session = _session(path)
    (inp,), outs = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape) == ('img', 'tensor(float)', ['N', 3, 'H', 'W'])
    assert [(o.name, o.type, o.shape) for o in outs] == [
        ('seg_logits', 'tensor(float)', ['N', 6, 'H', 'W']),
        ('labels', 'tensor(int64)', ['N', 'H', 'W'])]
    assert result.input_shape == ['N', 3, 'H', 'W'] and result.opset == 18


def test_metadata_names_classes_palette_config(demo_onnx):
    path, _ = demo_onnx
    meta = _session(path).get_modelmeta().custom_metadata_map
    assert json.loads(meta['classes']) == ['background', 'circle', 'square', 'triangle',
                                           'ring', 'star']
    assert json.loads(meta['palette'])[:2] == [[0, 0, 0], [128, 0, 0]]
    assert meta['config'] == 'fcn_r18-d8_demo.py'
    # the graph converts BGR -> RGB and normalises with the config's RGB mean/std, so the
    # raw value that stands for a padded 0 is the mean in BGR order
    assert json.loads(meta['mean']) == pytest.approx([123.675, 116.28, 103.53])
    assert json.loads(meta['std']) == pytest.approx([58.395, 57.12, 57.375])
    assert json.loads(meta['pad_value']) == pytest.approx([103.53, 116.28, 123.675])
    assert json.loads(meta['dynamic']) is True and json.loads(meta['channel_conversion'])


@pytest.mark.parametrize('which', ['demo', 'r50'])
@pytest.mark.parametrize('shape', SHAPES, ids=lambda s: 'x'.join(map(str, s)))
def test_onnxruntime_matches_predict(which, shape, request):
    model = request.getfixturevalue(f'{which}_model')
    path, _ = request.getfixturevalue(f'{which}_onnx')
    images = _raw_images(shape, seed=shape[2])
    ref_logits, ref_labels = _predict(model, images)
    logits, labels = _session(path).run(None, {'img': images.float().numpy()})
    assert logits.shape == ref_logits.shape == (shape[0], model.num_classes) + shape[2:]
    scale = np.abs(ref_logits).max()
    assert np.abs(logits - ref_logits).max() <= 1e-3 * scale
    assert labels.shape == ref_labels.shape and labels.dtype == np.int64
    assert (labels == ref_labels).mean() >= 0.999


def test_channel_order_is_inside_the_graph(demo_model, demo_onnx):
    """Feeding RGB instead of BGR changes the result: the graph does the conversion."""
    images = _raw_images((1, 3, 64, 64), seed=1)
    session = _session(demo_onnx[0])
    bgr = session.run(['seg_logits'], {'img': images.float().numpy()})[0]
    rgb = session.run(['seg_logits'], {'img': images.flip(1).float().numpy()})[0]
    ref, _ = _predict(demo_model, images)
    assert np.abs(bgr - ref).max() <= 1e-3 * np.abs(ref).max()
    assert np.abs(rgb - ref).max() > 1e-2 * np.abs(ref).max()


def test_static_export_takes_one_shape(demo_model, tmp_path):
    path = str(tmp_path / 'static.onnx')
    result = export_onnx(demo_model, path, shape=(64, 96), config_name='fcn_r18-d8_demo.py')
    assert result.input_shape == [1, 3, 64, 96] and result.outputs == ['seg_logits']
    session = _session(path)
    assert [o.name for o in session.get_outputs()] == ['seg_logits']
    images = _raw_images((1, 3, 64, 96))
    ref, _ = _predict(demo_model, images)
    out = session.run(None, {'img': images.float().numpy()})[0]
    assert np.abs(out - ref).max() <= 1e-3 * np.abs(ref).max()
    segmentor = ONNXRuntimeSegmentor(path)
    with pytest.raises(ValueError, match=r'takes inputs of 64x96 only, got a 65x96 batch: '
                                         r'export with --dynamic'):
        segmentor.predict([_raw_images((3, 65, 96))])


def test_export_without_onnx_names_the_extra(demo_model, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__('sys').modules, 'onnx', None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[deploy\]'"):
        export_onnx(demo_model, str(tmp_path / 'x.onnx'))


def test_binary_head_exports_logits_and_thresholded_labels(tmp_path):
    from deploy_helpers import DEMO_CONFIG, build_model

    from fcn_mm.deploy import verify_inputs, verify_onnx
    model = build_model(DEMO_CONFIG, {'model.decode_head.num_classes': 2,
                                      'model.decode_head.out_channels': 1,
                                      'model.decode_head.threshold': 0.5})
    images = _raw_images((1, 3, 64, 64), seed=2)
    # a threshold inside the range of this random model's probabilities: both labels occur
    model.decode_head.threshold = float(np.median(_predict(model, images)[0]))
    path = str(tmp_path / 'binary.onnx')
    export_onnx(model, path, shape=(64, 64), with_argmax=True)
    logits, labels = _session(path).run(None, {'img': images.float().numpy()})
    ref_probs, ref_labels = _predict(model, images)  # predict reports sigmoid(logits)
    assert logits.shape == (1, 1, 64, 64) and labels.shape == (1, 64, 64)
    assert np.abs(1 / (1 + np.exp(-logits)) - ref_probs).max() <= 1e-5
    assert (labels == ref_labels).mean() >= 0.999 and 0 < ref_labels.mean() < 1
    assert all(r.passed for r in verify_onnx(model, path, verify_inputs((64, 64), False)))
    out = ONNXRuntimeSegmentor(path).predict([images[0]])[0]
    assert torch.equal(out.pred_sem_seg.data[0].long(), torch.from_numpy(ref_labels[0]))
