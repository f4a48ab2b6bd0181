"""int8 keeps the score layers float32 by module name: FCN-8s (FCNSkipHead) runs
``score_fr`` before the skip layers, so the classifier is not the last Conv; and a file
labelled int8 without a quantised weight is refused (by quantize_onnx and the loader)."""
import os.path as osp

import onnx
import pytest
import torch
from deploy_helpers import REPO, build_model

from fcn_mm.deploy import (ImageCalibrationReader, ONNXRuntimeSegmentor, QuantizeSettings,
                           export_onnx, float_node_names, node_modules,
                           quantized_weight_names, quantize_onnx, score_layer_nodes,
                           synthetic_image)

FCN8S_CONFIG = osp.join(REPO, 'configs', 'fcn', 'fcn8s_vgg16-narrow_demo.py')
SCORES = ['decode_head.score_fr', 'decode_head.score_pool4', 'decode_head.score_pool3']


@pytest.fixture(scope='module')
def fcn8s(tmp_path_factory):
    """The narrow FCN-8s (random weights, score layers too) exported at 32x32, and its
    int8 file calibrated on two random images."""
    model = build_model(FCN8S_CONFIG)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # the paper's score layers start at zero: give them weights
        for name in SCORES:
            conv = model.get_submodule(name)
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * 0.05)
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator) * 0.05)
    tmp = tmp_path_factory.mktemp('fcn8s')
    fp32 = str(tmp / 'fcn8s.onnx')
    export_onnx(model, fp32, shape=(32, 32), config_name='fcn8s_vgg16-narrow_demo.py')
    images = [synthetic_image(32, 32, seed=i) for i in range(2)]
    int8 = str(tmp / 'fcn8s_int8.onnx')
    result = quantize_onnx(fp32, int8, ImageCalibrationReader(images))
    return dict(fp32=fp32, int8=int8, result=result, images=images, tmp=tmp)


def _module_of(node, initializers):
    modules = node_modules(node, initializers)
    return modules[-1] if modules else ''


def test_fcn8s_position_is_not_the_rule(fcn8s):
    """The last Conv of the FCN-8s graph is score_pool3, and score_fr comes before
    score_pool4 and score_pool3: keeping 'the last Conv on' float would miss two
    score layers and the fusion."""
    model = onnx.load(fcn8s['fp32'])
    inits = {t.name for t in model.graph.initializer}
    convs = [_module_of(n, inits) for n in model.graph.node if n.op_type == 'Conv']
    assert convs[-1] == 'decode_head.score_pool3'
    assert convs.index('decode_head.score_fr') < convs.index('decode_head.score_pool4')
    names = set(float_node_names(model))
    by_module = {}
    for node in model.graph.node:
        by_module.setdefault(_module_of(node, inits), []).append(node)
    for module in SCORES + ['decode_head.upscore2', 'decode_head.upscore_pool4',
                            'decode_head.upscore8']:
        assert by_module[module] and all(n.name in names for n in by_module[module]), module
    # the fusion (Adds in the head itself) is float too; the backbone is not
    fusion = [n for n in by_module['decode_head'] if n.op_type == 'Add']
    assert len(fusion) == 2 and all(n.name in names for n in fusion)
    assert not any(n.name in names for n in by_module['backbone.fc7'] +
                   by_module['backbone.fc6'])


def test_fcn8s_int8_keeps_score_layers_and_fusion_float(fcn8s):
    result = fcn8s['result']
    assert result.score_layers == SCORES
    model = onnx.load(fcn8s['int8'])
    graph = model.graph
    inits = {t.name: t.data_type for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    head = [n for n in graph.node if _module_of(n, set(inits)).startswith('decode_head')]
    score_convs = {_module_of(n, set(inits)): n for n in head if n.op_type == 'Conv'}
    assert sorted(score_convs) == sorted(SCORES)
    for module, conv in score_convs.items():
        # the weight is a float32 initializer, not a DequantizeLinear output
        assert conv.input[1] not in producer, module
        assert inits[conv.input[1]] == onnx.TensorProto.FLOAT, module
    # nothing computed from the score layers is quantised or dequantised again
    for node in head:
        if node.op_type in ('Conv', 'ConvTranspose', 'Add'):
            fed_by = {producer[i].op_type for i in node.input[1:] if i in producer} \
                if node.op_type == 'Conv' else \
                {producer[i].op_type for i in node.input if i in producer}
            assert 'DequantizeLinear' not in fed_by, (node.name, fed_by)
    consumers = {i: n.op_type for n in graph.node for i in n.input}
    for node in head:
        assert all(consumers.get(out) != 'QuantizeLinear' for out in node.output), node.name
    # the backbone convolutions are int8: every one of them takes a dequantised weight
    backbone = [n for n in graph.node if n.op_type == 'Conv' and n not in head]
    assert len(backbone) == 15
    for conv in backbone:
        weight = producer[conv.input[1]]
        assert weight.op_type == 'DequantizeLinear'
        assert inits[weight.input[0]] == onnx.TensorProto.INT8
    assert result.num_quantized_weights == len(quantized_weight_names(model)) == 15


def test_score_layers_not_in_the_graph_are_refused(fcn8s, tmp_path):
    out = tmp_path / 'x.onnx'
    with pytest.raises(ValueError, match=r"no node of the score layers \['decode_head\.cls'\] "
                                         r'in the ONNX graph .* --score-layers'):
        quantize_onnx(fcn8s['fp32'], str(out), ImageCalibrationReader(fcn8s['images']),
                      QuantizeSettings(score_layers=('decode_head.cls',)))
    assert not out.exists()


def test_quantize_refuses_a_result_without_quantised_weights(fcn8s, tmp_path, monkeypatch):
    import fcn_mm.deploy.quantize as quantize_module
    # every node kept float: quantize_static then quantises no weight
    monkeypatch.setattr(quantize_module, 'float_node_names',
                        lambda model, layers: [n.name for n in model.graph.node])
    out = tmp_path / 'all_float.onnx'
    with pytest.raises(ValueError, match=r'all_float\.onnx: labelled precision int8, but no '
                                         r'weight in its graph is quantised'):
        quantize_onnx(fcn8s['fp32'], str(out), ImageCalibrationReader(fcn8s['images']))
    assert not out.exists()


def test_loader_refuses_an_int8_label_on_a_float_graph(fcn8s, tmp_path):
    model = onnx.load(fcn8s['fp32'])
    for prop in model.metadata_props:
        if prop.key == 'precision':
            prop.value = 'int8'
    relabelled = str(tmp_path / 'relabelled.onnx')
    onnx.save(model, relabelled)
    with pytest.raises(ValueError, match=r'relabelled\.onnx: labelled precision int8, but '
                                         r'no weight in its graph is quantised'):
        ONNXRuntimeSegmentor(relabelled, num_threads=1)
    # the float32 file and the real int8 file load
    assert ONNXRuntimeSegmentor(fcn8s['fp32'], num_threads=1).metadata['precision'] == \
        'float32'
    segmentor = ONNXRuntimeSegmentor(fcn8s['int8'], num_threads=1)
    assert segmentor.metadata['precision'] == 'int8' and segmentor.num_classes == 6


def test_score_layers_found_by_weight_name_without_node_metadata(fcn8s):
    """A graph whose nodes lost the exporter's metadata (another tool rewrote it): the
    score convolutions are found by their weights' names."""
    model = onnx.load(fcn8s['fp32'])
    with_metadata = float_node_names(model)
    for node in model.graph.node:
        del node.metadata_props[:]
    assert list(score_layer_nodes(model)) == SCORES
    assert float_node_names(model) == with_metadata
