"""The FCN-family configs (VGG16 FCN-32s/16s/8s, the VGG demo, torchvision's FCN) with the
config checker, get_flops.py, the model table, benchmark.py, the optimiser recipe and the
inference API."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.optim import build_optim_wrapper

from fcn_mm.apis import inference_model, init_model
from fcn_mm.registry import MODELS
from fcn_mm.utils.config_check import check_config, load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FCN = osp.join(REPO, 'configs', 'fcn')
DEMO = osp.join(FCN, 'fcn8s_vgg16-narrow_demo.py')
# torchvision's VGG16 without its 1000-class layer: 138,357,544 - (4096 * 1000 + 1000)
VGG16_CONV_FC = 138_357_544 - 4_097_000
C = 21
HEAD_PARAMS = {  # score_fr, score_pool4, score_pool3 (with bias), upsamplers (no bias)
    '32s': (4096 + 1) * C + C * C * 64 * 64,
    '16s': (4096 + 1) * C + (512 + 1) * C + C * C * (4 * 4 + 32 * 32),
    '8s': (4096 + 1) * C + (512 + 1) * C + (256 + 1) * C + C * C * (16 + 16 + 16 * 16),
}


def _tool(folder, name):
    spec = importlib.util.spec_from_file_location(
        f'_tool_{name}', osp.join(REPO, 'tools', folder, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build_on_meta(path, **options):
    cfg = load_config(path, cfg_options={'model.pretrained': None, **options})
    check_config(cfg, check_checkpoints=False)
    with torch.device('meta'):
        return cfg, MODELS.build(cfg.model)


@pytest.mark.parametrize('arch', ['32s', '16s', '8s'])
def test_vgg_configs_check_and_have_the_papers_parameters(arch):
    _, model = _build_on_meta(osp.join(FCN, f'fcn{arch}_vgg16_480x480_voc.py'))
    assert sum(p.numel() for p in model.parameters()) == VGG16_CONV_FC + HEAD_PARAMS[arch]
    assert not hasattr(model, 'auxiliary_head') or model.auxiliary_head is None
    assert type(model.backbone).__name__ == 'VGG'
    assert model.backbone.conv1_1.padding == (100, 100)
    assert model.decode_head.arch == arch and model.decode_head.alignment == 'caffe'
    raw = load_config(osp.join(FCN, f'fcn{arch}_vgg16_480x480_voc.py'))
    assert raw.model.pretrained == 'torchvision://vgg16'
    assert raw.model.data_preprocessor.mean == [104.00699, 116.66877, 122.67892]
    assert raw.model.data_preprocessor.std == [1.0, 1.0, 1.0]
    assert raw.model.data_preprocessor.bgr_to_rgb is False
    assert [t.type for t in raw.test_dataloader.dataset.pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'PackSegInputs']  # original size


def test_tvseg_configs_check_and_build():
    for depth, blocks in ((50, 6), (101, 23)):
        _, model = _build_on_meta(osp.join(FCN, f'fcn_tvseg-r{depth}-d8_480x480_voc.py'),
                                  **{'model.decode_head.norm_cfg.type': 'BN',
                                     'model.auxiliary_head.norm_cfg.type': 'BN'})
        assert len(model.backbone.layer3) == blocks
        assert model.decode_head.convs[0].conv.weight.shape == (512, 2048, 3, 3)
        assert not model.decode_head.concat_input
        assert model.auxiliary_head.loss_decode.loss_weight == 0.5


def _conv(cin, cout, k, h, w=None):
    return 2 * cin * cout * k * k * h * (h if w is None else w)


def test_get_flops_of_fcn8s_at_480_equals_a_count_by_hand(capsys):
    """Caffe-exact sizes at 480x480: conv1 678, pools 339/170/85/43/22, fc6 16, upscore2
    34, upscore_pool4 70 (transposed convs cost 2 Cin Cout k^2 per input pixel)."""
    stages = [(678, [(3, 64), (64, 64)]), (339, [(64, 128), (128, 128)]),
              (170, [(128, 256), (256, 256), (256, 256)]),
              (85, [(256, 512), (512, 512), (512, 512)]),
              (43, [(512, 512), (512, 512), (512, 512)])]
    expected = sum(_conv(cin, cout, 3, size) for size, convs in stages for cin, cout in convs)
    expected += _conv(512, 4096, 7, 16) + _conv(4096, 4096, 1, 16) + _conv(4096, C, 1, 16)
    expected += _conv(C, C, 4, 16) + _conv(512, C, 1, 43)  # upscore2, score_pool4
    expected += _conv(C, C, 4, 34) + _conv(256, C, 1, 85)  # upscore_pool4, score_pool3
    expected += _conv(C, C, 16, 70)  # upscore8
    info = _tool('analysis_tools', 'get_flops').main(
        [osp.join(FCN, 'fcn8s_vgg16_480x480_voc.py'), '--shape', '480'])
    assert info['flops'] == expected
    assert info['params'] == VGG16_CONV_FC + HEAD_PARAMS['8s']
    assert f"{expected / 1e9:.2f} GFLOPs" in capsys.readouterr().out


def test_model_table_names_the_backbones():
    table = _tool('misc', 'model_table')
    rows = {name: table.model_row(osp.join(FCN, name), (480, 480)) for name in
            ('fcn8s_vgg16-narrow_demo.py', 'fcn_tvseg-r50-d8_480x480_voc.py')}
    assert rows['fcn8s_vgg16-narrow_demo.py']['backbone'] == 'VGG-16 (width 8), OS 32'
    assert rows['fcn8s_vgg16-narrow_demo.py']['classes'] == 6
    assert rows['fcn_tvseg-r50-d8_480x480_voc.py']['backbone'] == 'torchvision resnet50, OS 8'


def test_paper_recipe_fixed_lr_and_doubled_bias_lr():
    cfg, _ = _build_on_meta(osp.join(FCN, 'fcn8s_vgg16_480x480_voc.py'))
    cfg.model.backbone.update(base_channels=2, fc_channels=8)
    cfg.model.decode_head.update(in_channels=[3, 8, 16, 8], channels=8)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = {id(p): g for g in wrapper.optimizer.param_groups for p in g['params']}
    bias, weight = groups[id(model.backbone.conv1_1.bias)], groups[id(model.backbone.fc6.weight)]
    assert (bias['lr'], bias['weight_decay']) == (2e-4, 0.0)
    assert (weight['lr'], weight['weight_decay'], weight['momentum']) == (1e-4, 5e-4, 0.99)
    from mmengine.registry import PARAM_SCHEDULERS
    scheduler = PARAM_SCHEDULERS.build(dict(cfg.param_scheduler[0],
                                            optimizer=wrapper.optimizer))
    for _ in range(3):
        wrapper.optimizer.step()
        scheduler.step()
    assert groups[id(model.backbone.fc6.weight)]['lr'] == 1e-4


def test_benchmark_tool_runs_the_demo_config(tmp_path):
    """A functional run (one timed step per mode); the figures are not checked."""
    out = tmp_path / 'bench.json'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'analysis_tools', 'benchmark.py'), DEMO,
         '--mode', 'both', '--repeat', '1', '--warmup', '0', '--shape', '64', '64',
         '--train-shape', '32', '48', '--train-batch', '2', '--threads', '1', '--peak-sizes',
         '--out', str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    infer, train = report['results']['infer'], report['results']['train']
    from fcn_mm.analysis.flops import get_model_complexity
    assert infer['flops'] == get_model_complexity(DEMO, (64, 64))['flops']
    assert train['shape'] == [32, 48] and train['batch'] == 2
    assert infer['shape'] == [64, 64] and infer['batch'] == 1
    assert train['flops'] > infer['flops'] * 2 * (32 * 48) / (64 * 64)  # fwd+bwd > fwd
    assert '| infer' in proc.stdout and '| train' in proc.stdout


def test_inference_api_on_the_demo_config(tmp_path):
    import cv2
    torch.manual_seed(0)
    model = init_model(DEMO, device='cpu')
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, image)
    result = inference_model(model, path)
    assert result.pred_sem_seg.data.shape == (1, 50, 70)
    assert result.seg_logits.data.shape == (6, 50, 70)
    assert model.dataset_meta['classes'][1] == 'circle'
