"""A model that cannot be exported fails at once, naming the module (and the operator)."""
import os
import os.path as osp
import subprocess
import sys
import time

import pytest
import torch
from deploy_helpers import REPO
from unexportable_modules import unexportable_config

from fcn_mm.apis import init_model
from fcn_mm.deploy import ExportError, export_onnx

HERE = osp.dirname(osp.abspath(__file__))


def _model(tmp_path, kind):
    config = tmp_path / f'fcn_unexportable_{kind}.py'
    config.write_text(unexportable_config(REPO, kind))
    return str(config), init_model(str(config), None, device='cpu')


def test_untraceable_module_is_named(tmp_path):
    _, model = _model(tmp_path, 'data_dependent')
    start = time.perf_counter()
    with pytest.raises(ExportError) as info:
        export_onnx(model, str(tmp_path / 'x.onnx'), shape=(64, 64), dynamic=True,
                    config_name='fcn_unexportable.py')
    message = str(info.value)
    assert message.startswith('cannot export fcn_unexportable.py to ONNX: torch.export '
                              'fails in module backbone.stages.1 (DataDependentGate): ')
    assert 'data-dependent' in message, message
    assert time.perf_counter() - start < 60  # before any ONNX translation
    assert not (tmp_path / 'x.onnx').exists()


def test_operator_without_onnx_translation_is_named(tmp_path):
    _, model = _model(tmp_path, 'custom_op')
    with pytest.raises(ExportError, match=r'operator fcn_mm_deploy_test\.shift\.default of '
                                          r'module backbone\.stages\.1 \(CustomOpShift\) has '
                                          r'no ONNX translation \(opset 18\)'):
        export_onnx(model, str(tmp_path / 'x.onnx'), shape=(64, 64),
                    config_name='fcn_unexportable.py')
    assert not (tmp_path / 'x.onnx').exists()


def test_cli_fails_with_the_module_named(tmp_path):
    config, model = _model(tmp_path, 'data_dependent')
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([HERE, REPO, os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run(
        [sys.executable, 'tools/deployment/pytorch2onnx.py', config, checkpoint,
         '--out', str(tmp_path / 'x.onnx'), '--dynamic'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert (f'error: cannot export {osp.basename(config)} to ONNX: torch.export fails in '
            'module backbone.stages.1 (DataDependentGate)') in proc.stderr
    assert not (tmp_path / 'x.onnx').exists()
