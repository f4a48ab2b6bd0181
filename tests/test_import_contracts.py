"""The layout rules of docs/add_modules.md hold: import-linter's contracts in .importlinter,
and no module or class of the package looks like a test to pytest.

Floors (a package imports only the floors below its own), independent siblings, and no
cycle between sibling modules; imports inside functions count. The second test shows that
the contracts do catch a new upward import, a sibling import and a cycle, in a temporary
copy of the package.
"""
import ast
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONTRACT_NAMES = ('Floors: each package imports only the floors below it',
                  'models, datasets, evaluation and visualization are independent',
                  'apis and analysis are independent',
                  'No import cycle between sibling packages or modules')
_LINT = ('import sys\n'
         'from importlinter.cli import lint_imports_command\n'
         'sys.exit(lint_imports_command())\n')


def lint_imports(root: str) -> subprocess.CompletedProcess:
    """Run import-linter on the ``fcn_mm`` package and ``.importlinter`` under ``root``."""
    env = dict(os.environ, PYTHONPATH=root)
    return subprocess.run(
        [sys.executable, '-c', _LINT, osp.join(root, '.importlinter'), '--no-cache'],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_every_contract():
    proc = lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    for name in CONTRACT_NAMES:
        assert f'{name} KEPT' in proc.stdout
    assert 'Contracts: 4 kept, 0 broken.' in proc.stdout


@pytest.mark.parametrize('module,added,expected', [
    # an upward import inside a function
    ('utils/misc.py', 'def _up():\n    from fcn_mm.models import builder\n',
     'fcn_mm.utils is not allowed to import fcn_mm.models'),
    # a sibling of the same floor
    ('models/builder.py', 'def _side():\n    import fcn_mm.datasets.demo_data\n',
     'fcn_mm.models is not allowed to import fcn_mm.datasets'),
    # a cycle inside one package
    ('engine/samplers.py', 'def _back():\n    from . import loops\n',
     'No cycles are allowed in fcn_mm.engine'),
])
def test_a_forbidden_import_breaks_the_contracts(tmp_path, module, added, expected):
    root = str(tmp_path)
    shutil.copytree(osp.join(REPO, 'fcn_mm'), osp.join(root, 'fcn_mm'),
                    ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(osp.join(REPO, '.importlinter'), root)
    with open(osp.join(root, 'fcn_mm', module), 'a', encoding='utf-8') as f:
        f.write('\n\n' + added)
    proc = lint_imports(root)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert expected in proc.stdout
    assert '0 broken' not in proc.stdout


def test_no_module_or_class_is_named_like_a_test():
    found = []
    for path in glob.glob(osp.join(REPO, 'fcn_mm', '**', '*.py'), recursive=True):
        name = osp.basename(path)
        if name.startswith('test_') or name.endswith('_test.py'):
            found.append(path)
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename=path)
        found += [f'{path}: class {node.name}' for node in ast.walk(tree)
                  if isinstance(node, ast.ClassDef) and node.name.startswith('Test')]
    assert found == []
