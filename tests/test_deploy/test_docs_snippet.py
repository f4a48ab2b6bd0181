"""docs/deploy.md's plain-ONNX-Runtime snippet runs with numpy and onnxruntime only."""
import json
import os
import re
import subprocess
import sys

from deploy_helpers import REPO

DOC = os.path.join(REPO, 'docs', 'deploy.md')
MARKER = '<!-- snippet: plain-onnxruntime -->'
CHECK = '''
import sys as _sys
_heavy = sorted({m.split('.')[0] for m in _sys.modules} & {'fcn_mm', 'torch', 'mmengine',
                                                           'mmcv', 'cv2'})
print('HEAVY_MODULES', _heavy)
'''


def snippet() -> str:
    text = open(DOC, encoding='utf-8').read()
    assert MARKER in text, f'{DOC} lost its snippet marker {MARKER}'
    match = re.search(re.escape(MARKER) + r'\s*```python\n(.*?)```', text, re.S)
    assert match, f'no ```python block after {MARKER} in {DOC}'
    return match.group(1)


def test_snippet_runs_without_fcn_mm(demo_onnx, tmp_path):
    code = snippet()
    assert 'fcn_mm' not in code and 'torch' not in code
    os.symlink(demo_onnx[0], tmp_path / 'fcn_r18-d8_demo.onnx')
    # -I: no PYTHONPATH, no user site: only what the environment itself has
    proc = subprocess.run([sys.executable, '-I', '-c', code + CHECK], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[-1] == 'HEAVY_MODULES []', proc.stdout
    found = re.match(r'\(1, 6, 97, 131\) \(1, 97, 131\) (\[.*\])$', lines[0])
    assert found, proc.stdout
    classes = json.loads(found.group(1).replace("'", '"'))
    assert classes and set(classes) <= {'background', 'circle', 'square', 'triangle', 'ring',
                                        'star'}
