"""Paths and helpers shared by the perf tests."""
import importlib.util
import os.path as osp

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
R50_CONFIG = osp.join(REPO, 'configs', 'fcn', 'fcn_r50-d8_480x480_voc.py')


def tool_path(name: str) -> str:
    """Path of ``tools/analysis_tools/<name>.py``."""
    return osp.join(REPO, 'tools', 'analysis_tools', f'{name}.py')


def load_tool(name: str):
    """Import ``tools/analysis_tools/<name>.py`` as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f'fcn_mm_tool_{name}', tool_path(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
