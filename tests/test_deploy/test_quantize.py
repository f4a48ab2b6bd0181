"""int8 post-training quantisation: tools/deployment/quantize.py on a short training run's
checkpoint, then tools/test.py --backend onnxruntime on the int8 file (labels against the
float32 PyTorch run), the file's metadata and graph, the calibration data and bad --calib."""
import json
import os
import os.path as osp
import re
import runpy
import subprocess
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch
from deploy_helpers import DEMO_CONFIG, REPO

from fcn_mm.deploy import (ImageCalibrationReader, ONNXRuntimeSegmentor, evenly_spaced,
                           float_node_names, node_modules, onnx_label_agreement,
                           quantize_onnx, synthetic_image)

NUM_TRAIN = 16
QUANTIZE = osp.join(REPO, 'tools', 'deployment', 'quantize.py')


def _run(args, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, (f'{args} exited with {proc.returncode}\n'
                                  f'{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}')
    return proc.stdout + proc.stderr


def _data_options(data_root):
    options = [f'demo_data.data_root={data_root}', f'demo_data.num_train={NUM_TRAIN}',
               'demo_data.num_val=6', 'demo_data.image_size=64']
    for split in ('train', 'val', 'test'):
        options.append(f'{split}_dataloader.dataset.data_root={data_root}')
        options += [f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    return options


@pytest.fixture(scope='module')
def quantized(tmp_path_factory):
    """30 iterations of the demo config on a small demo set, then quantize.py --calib 8."""
    tmp = tmp_path_factory.mktemp('quantize')
    data_root, work_dir = str(tmp / 'data'), str(tmp / 'work')
    options = _data_options(data_root)
    _run(['tools/train.py', DEMO_CONFIG, '--work-dir', work_dir, '--cfg-options'] + options
         + ['train_cfg.max_iters=30', 'train_cfg.val_interval=100',
            'default_hooks.checkpoint.interval=30', 'train_dataloader.batch_size=4',
            # background weighs less, so that a short run predicts more than background
            'model.decode_head.loss_decode.class_weight=[0.05,1,1,1,1,1]'])
    checkpoint = osp.join(work_dir, 'iter_30.pth')
    int8_file = osp.join(work_dir, 'demo_int8.onnx')
    log = _run([QUANTIZE, DEMO_CONFIG, checkpoint, '--calib', '8', '--out', int8_file,
                '--cfg-options'] + options)
    return dict(work_dir=work_dir, checkpoint=checkpoint, int8=int8_file, log=log,
                options=options, data_root=data_root)


def _test(run, checkpoint, out_dir, *extra):
    log = _run(['tools/test.py', DEMO_CONFIG, checkpoint, '--work-dir',
                osp.join(run['work_dir'], 'test'), '--out', out_dir, *extra,
                '--cfg-options'] + run['options'])
    with open(re.search(r'Metrics written to (\S+)', log).group(1)) as f:
        metrics = json.load(f)
    table = [line for line in log.splitlines() if line.startswith('|')]
    labels = {name: cv2.imread(osp.join(out_dir, name), cv2.IMREAD_UNCHANGED)
              for name in sorted(os.listdir(out_dir))}
    return metrics, table, labels


def test_quantize_then_tools_test_agrees_with_float32(quantized, tmp_path):
    log = quantized['log']
    assert 'calibration: 8 images of the train split through the test pipeline' in log
    sizes = re.search(r'wrote .*demo_int8\.onnx \(([\d.]+) MiB; float32 ([\d.]+) MiB\)', log)
    assert sizes, log
    # int8 weights: about a quarter of the float32 file
    assert float(sizes.group(1)) < 0.5 * float(sizes.group(2))
    fp32_metrics, fp32_table, fp32_labels = _test(quantized, quantized['checkpoint'],
                                                  str(tmp_path / 'pytorch'))
    int8_metrics, int8_table, int8_labels = _test(quantized, quantized['int8'],
                                                  str(tmp_path / 'int8'),
                                                  '--backend', 'onnxruntime')
    assert int8_metrics['checkpoint'] == quantized['int8']
    assert len(int8_table) == len(fp32_table) == 7 and int8_table[0] == fp32_table[0]
    assert 0 <= int8_metrics['mIoU'] <= 100
    assert sorted(int8_labels) == sorted(fp32_labels) and len(int8_labels) == 6
    # the float32 predictions show at least two classes on >= 2% of the pixels each,
    # so that agreement is not that of two all-background maps
    fp32_all = np.concatenate([a.ravel() for a in fp32_labels.values()])
    shares = np.bincount(fp32_all, minlength=6) / fp32_all.size
    assert (shares >= 0.02).sum() >= 2, shares
    agree = np.mean([(int8_labels[k] == fp32_labels[k]).mean() for k in fp32_labels])
    assert agree >= 0.95, agree


def test_int8_file_metadata_and_float_ends(quantized):
    model = onnx.load(quantized['int8'])
    props = {p.key: p.value for p in model.metadata_props}
    assert props['precision'] == 'int8'
    info = json.loads(props['quantization'])
    assert info['num_calib'] == 8 and info['calib_split'] == 'train'
    assert info['quant_format'] == 'QDQ' and info['per_channel'] is True
    assert json.loads(props['classes'])[1] == 'circle'   # the float export's metadata
    ops = [node.op_type for node in model.graph.node]
    assert ops.count('QuantizeLinear') > 10 and ops.count('DequantizeLinear') > 10
    # seg_logits come from the float Resize of the float classifier's output
    producer = {out: node for node in model.graph.node for out in node.output}
    assert producer['seg_logits'].op_type == 'Resize'
    assert producer[producer['seg_logits'].input[0]].op_type == 'Conv'
    assert not any('seg_logits' in node.input for node in model.graph.node
                   if node.op_type == 'QuantizeLinear')
    # the weights are stored as int8
    int8_weights = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= 20
    # the segmentor reads the file like a float32 export
    segmentor = ONNXRuntimeSegmentor(quantized['int8'], num_threads=1)
    assert segmentor.metadata['precision'] == 'int8' and segmentor.num_classes == 6


def test_calib_must_be_positive(capsys, tmp_path):
    for value, shown in (('0', '0'), ('-3', '-3'), ('many', "'many'")):
        with pytest.raises(SystemExit) as exc:
            runpy_main([QUANTIZE, DEMO_CONFIG, 'x.pth', '--calib', value,
                        '--out', str(tmp_path / 'x.onnx')])
        assert exc.value.code == 2
        assert f'--calib takes a positive number of images, got {shown}' in \
            capsys.readouterr().err


def runpy_main(argv):
    old = sys.argv
    sys.argv = argv
    try:
        runpy.run_path(argv[0], run_name='__main__')
    finally:
        sys.argv = old


def test_calib_larger_than_the_data_set_names_its_size(quantized, tmp_path):
    with pytest.raises(ValueError, match=rf'--calib {NUM_TRAIN + 1}: the calibration data '
                                         rf'set has only {NUM_TRAIN} images'):
        runpy_main([QUANTIZE, DEMO_CONFIG, quantized['checkpoint'], '--calib',
                    str(NUM_TRAIN + 1), '--out', str(tmp_path / 'x.onnx'),
                    '--cfg-options'] + quantized['options'])
    assert not os.path.exists(tmp_path / 'x.onnx')


def test_evenly_spaced_and_its_errors():
    assert evenly_spaced(3, 10) == [0, 3, 6]
    assert evenly_spaced(4, 4) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match='--calib must be a positive number of images, got 0'):
        evenly_spaced(0, 10)
    with pytest.raises(ValueError, match='--calib 11: the calibration data set has only 10'):
        evenly_spaced(11, 10)


def test_reader_resizes_to_a_static_input_and_rewinds():
    images = [synthetic_image(20, 30, seed=i) for i in range(2)]
    reader = ImageCalibrationReader(images, [1, 3, 16, 24])
    first = reader.get_next()['img']
    assert first.shape == (1, 3, 16, 24) and first.dtype == np.float32
    expected = torch.nn.functional.interpolate(images[0][None], size=(16, 24),
                                               mode='bilinear', align_corners=False)
    np.testing.assert_allclose(first, expected.clamp(0, 255).numpy(), atol=1e-4)
    assert reader.get_next()['img'].shape == (1, 3, 16, 24) and reader.get_next() is None
    reader.rewind()
    assert len(list(reader)) == 2
    dynamic = ImageCalibrationReader(images, ['N', 3, 'H', 'W'])
    assert dynamic.get_next()['img'].shape == (1, 3, 20, 30)   # as it is


def test_float_ends_of_the_exported_graph(demo_onnx):
    model = onnx.load(demo_onnx[0])
    names = float_node_names(model)
    kinds = {node.name: node.op_type for node in model.graph.node}
    chosen = [kinds[name] for name in names]
    assert {'Sub', 'Div', 'Resize', 'ArgMax'} <= set(chosen)
    convs = [node for node in model.graph.node if node.op_type == 'Conv']
    # the classifier conv_seg only (found by module name; here also the last Conv)
    assert chosen.count('Conv') == 1 and convs[-1].name in names and len(convs) > 10
    assert node_modules(convs[-1]) == ['decode_head', 'decode_head.conv_seg']


def test_quantize_onnx_in_process_on_random_images(demo_model, demo_onnx, tmp_path):
    """The API on the session's demo export (random weights): labels mostly kept."""
    images = [synthetic_image(96, 112, seed=i) for i in range(3)]
    out = str(tmp_path / 'int8.onnx')
    result = quantize_onnx(demo_onnx[0], out, ImageCalibrationReader(images))
    assert result.num_calib == 3 and result.op_counts['QuantizeLinear'] > 10
    assert 'node_argmax' in result.float_nodes
    # FCNHead: its classifier conv_seg takes a float32 weight, every other Conv an int8 one
    assert result.score_layers == ['decode_head.conv_seg']
    graph = onnx.load(out).graph
    inits = {t.name: t.data_type for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    convs = [n for n in graph.node if n.op_type == 'Conv']
    seg = [n for n in convs if node_modules(n)[-1:] == ['decode_head.conv_seg']]
    assert len(seg) == 1 and seg[0].input[1] not in producer
    assert inits[seg[0].input[1]] == onnx.TensorProto.FLOAT
    dequantized = [c for c in convs if c.input[1] in producer and
                   producer[c.input[1]].op_type == 'DequantizeLinear']
    assert len(dequantized) == len(convs) - 1 == result.num_quantized_weights
    agreement = onnx_label_agreement(demo_onnx[0], out, images, num_threads=1)
    assert 0.5 <= agreement <= 1.0
    with pytest.raises(ValueError, match=r'int8\.onnx is already int8 \(metadata '
                                         r'`precision`\): quantise the float32 export'):
        quantize_onnx(out, str(tmp_path / 'twice.onnx'), ImageCalibrationReader(images))
