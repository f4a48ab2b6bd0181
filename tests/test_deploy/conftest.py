"""Fixtures of the deploy tests: the demo model and a narrow R50-D8 with random weights
(random BN statistics too), exported once per session with --dynamic and --with-argmax."""
import pytest
from deploy_helpers import DEMO_CONFIG, NARROW_R50, R50_CONFIG, build_model


@pytest.fixture(scope='session')
def demo_model():
    return build_model(DEMO_CONFIG)


@pytest.fixture(scope='session')
def r50_model():
    return build_model(R50_CONFIG, NARROW_R50)


def _export(model, path, **kwargs):
    from fcn_mm.deploy import export_onnx
    return export_onnx(model, str(path), **kwargs)


@pytest.fixture(scope='session')
def demo_onnx(demo_model, tmp_path_factory):
    """(path, ExportResult) of the demo model exported with --dynamic --with-argmax."""
    path = tmp_path_factory.mktemp('onnx') / 'fcn_r18-d8_demo.onnx'
    result = _export(demo_model, path, shape=(128, 128), dynamic=True, with_argmax=True,
                     config_name='fcn_r18-d8_demo.py')
    return str(path), result


@pytest.fixture(scope='session')
def r50_onnx(r50_model, tmp_path_factory):
    path = tmp_path_factory.mktemp('onnx') / 'fcn_r50-d8_narrow.onnx'
    result = _export(r50_model, path, shape=(128, 128), dynamic=True, with_argmax=True,
                     config_name='fcn_r50-d8_480x480_voc.py')
    return str(path), result
