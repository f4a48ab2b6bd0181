"""Every fcn_mm type name resolves, in scope fcn_mm, to an fcn_mm class, silently."""
import inspect
import os.path as osp

import pytest
import torch
from mmengine.registry import DATASETS as ROOT_DATASETS
from mmengine.registry import DefaultScope
from mmengine.registry import MODELS as ROOT_MODELS

from fcn_mm import registry as R

# Type names that are a contract (DESIGN.md), by registry.
CONTRACT = {
    'MODELS': ['EncoderDecoder', 'SegDataPreProcessor', 'ResNet', 'ResNetV1c',
               'ResNetV1d', 'FCNHead', 'CrossEntropyLoss', 'SegTTAModel'],
    'DATASETS': ['BaseSegDataset', 'PascalVOCDataset', 'CityscapesDataset', 'ADE20KDataset',
                 'PascalContextDataset', 'PascalContextDataset59', 'COCOStuffDataset'],
    'TRANSFORMS': ['LoadImageFromFile', 'LoadAnnotations', 'RandomResize', 'RandomCrop',
                   'RandomFlip', 'PhotoMetricDistortion', 'Resize', 'Pad',
                   'PackSegInputs', 'TestTimeAug'],
    'METRICS': ['IoUMetric'],
    'VISUALIZERS': ['SegLocalVisualizer'],
    'HOOKS': ['SegVisualizationHook'],
}


TESTS_DIR = osp.dirname(osp.abspath(__file__))


def _defined_in_tests(obj):
    """Helpers that other test modules register for themselves are not fcn_mm's."""
    try:
        return osp.abspath(inspect.getfile(obj)).startswith(TESTS_DIR + osp.sep)
    except TypeError:
        return False


def _registered():
    from fcn_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return [(reg_name, name) for reg_name, reg in R.ALL_REGISTRIES.items()
            for name, obj in sorted(reg.module_dict.items())
            if not _defined_in_tests(obj)]


def _resolve_in_scope(reg_name, name):
    """Look ``name`` up the way the Runner does: from mmengine's root, by scope."""
    child = R.ALL_REGISTRIES[reg_name]
    with child.parent.switch_scope_and_registry('fcn_mm') as registry:
        assert registry is child, f'scope fcn_mm did not select {reg_name}'
        return registry.get(name)


def test_registries_are_scoped_children_of_mmengine():
    for reg_name, reg in R.ALL_REGISTRIES.items():
        assert reg.scope == 'fcn_mm', reg_name
        assert reg.parent is not None and reg.parent.scope == 'mmengine', reg_name
        assert reg.parent._children['fcn_mm'] is reg, reg_name


@pytest.mark.parametrize('reg_name,name',
                         [(r, n) for r, names in CONTRACT.items() for n in names])
def test_contract_names_resolve_to_fcn_mm(reg_name, name, registry_fallback_log):
    obj = _resolve_in_scope(reg_name, name)
    assert obj is not None, f'{name} is not registered in fcn_mm {reg_name}'
    assert obj.__module__.startswith('fcn_mm'), f'{name} -> {obj.__module__}'
    assert registry_fallback_log == []


@pytest.mark.parametrize('reg_name,name', _registered())
def test_every_registered_name_resolves_to_fcn_mm(reg_name, name, registry_fallback_log):
    obj = _resolve_in_scope(reg_name, name)
    assert obj is R.ALL_REGISTRIES[reg_name].module_dict[name]
    assert getattr(obj, '__module__', '').startswith('fcn_mm'), f'{name} -> {obj}'
    assert registry_fallback_log == []


def test_registered_names_exist():
    assert len(_registered()) >= sum(len(v) for v in CONTRACT.values())


def test_building_through_root_never_falls_back(registry_fallback_log, tmp_path):
    """As the Runner builds: root registry + default scope fcn_mm, no fallback logs."""
    assert DefaultScope.get_current_instance().scope_name == 'fcn_mm'
    loss = ROOT_MODELS.build(dict(type='CrossEntropyLoss', loss_weight=0.4))
    assert type(loss).__module__.startswith('fcn_mm')
    head = ROOT_MODELS.build(dict(type='FCNHead', in_channels=4, channels=4, num_convs=1,
                                  num_classes=3, norm_cfg=dict(type='BN')))
    assert head([torch.randn(1, 4, 5, 5)]).shape == (1, 3, 5, 5)
    dataset = ROOT_DATASETS.build(dict(type='PascalVOCDataset', data_root=str(tmp_path),
                                       lazy_init=True,
                                       pipeline=[dict(type='LoadImageFromFile'),
                                                 dict(type='PackSegInputs')]))
    assert type(dataset).__module__.startswith('fcn_mm')
    assert all(type(t).__module__.startswith('fcn_mm') for t in dataset.pipeline.transforms)
    assert registry_fallback_log == []


def test_fallback_guard_catches_a_fallback(registry_fallback_log):
    """The guard itself works: a scope with no fcn_mm child logs the fallback line."""
    with ROOT_MODELS.switch_scope_and_registry('no_such_scope_xyz'):
        pass
    assert any('Failed to' in m for m in registry_fallback_log)


def _run_python(code):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_importing_the_registry_imports_no_package_and_patches_nothing():
    out = _run_python(
        'import sys\n'
        'import fcn_mm.registry\n'
        'from mmengine.runner.checkpoint import CheckpointLoader\n'
        "print(sorted(m for m in sys.modules if m.startswith('fcn_mm')))\n"
        "print(CheckpointLoader._schemes[''].__module__)\n")
    modules, local_loader = out.splitlines()
    assert modules == "['fcn_mm', 'fcn_mm.registry', 'fcn_mm.version']"
    for name in ('fcn_mm.models', 'fcn_mm.datasets', 'fcn_mm.engine',
                 'fcn_mm.utils.config_check'):
        assert f"'{name}'" not in modules
    assert local_loader.startswith('mmengine')


def test_importing_models_routes_checkpoints_through_the_safe_loader():
    out = _run_python(
        'import fcn_mm.models\n'
        'from mmengine.runner.checkpoint import CheckpointLoader\n'
        "print(CheckpointLoader._schemes[''].__module__)\n"
        "print(CheckpointLoader._schemes['open-mmlab://'].__module__)\n")
    assert out.split() == ['fcn_mm.utils.safe_loading', 'fcn_mm.utils.pretrained']


def test_register_all_modules_imports_every_registry_location():
    from fcn_mm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    import sys
    for registry in R.ALL_REGISTRIES.values():
        assert registry._imported
        assert all(location in sys.modules for location in registry._locations)
