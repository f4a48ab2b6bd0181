"""Every config in configs/fcn/ exports with --dynamic and verifies against predict.

Full-size models with random weights: about 10-60 s per config on 2 cores, hence the
opt-in slow tier (``python -m pytest -m slow tests/test_deploy/test_configs_export.py``). The fast
tier exports the demo model and a narrow R50-D8 (test_onnx_export.py) and checks the
failure path (test_export_failures.py).
"""
import glob
import os.path as osp

import pytest
import torch
from deploy_helpers import REPO, build_model

from fcn_mm.deploy import export_onnx, verify_inputs, verify_onnx

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'fcn', '*.py')))


def test_configs_are_found():
    assert len(CONFIGS) >= 10, CONFIGS


@pytest.mark.slow
@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_config_exports_dynamic_and_verifies(config, tmp_path):
    model = build_model(config)
    path = str(tmp_path / 'model.onnx')
    result = export_onnx(model, path, shape=(128, 128), dynamic=True, with_argmax=True,
                         config_name=osp.basename(config))
    assert result.input_shape == ['N', 3, 'H', 'W']
    inputs = verify_inputs((128, 128), dynamic=True)
    inputs['97x131'] = torch.randint(0, 256, (2, 3, 97, 131)).float()
    results = verify_onnx(model, path, inputs)
    assert all(r.passed for r in results), [(r.name, r.relative_diff, r.label_agreement)
                                            for r in results]
