"""Config snippets in the docs stay true.

- A python block under ``<!-- file: PATH -->`` must equal that file of the repo.
- A python block that starts with ``_base_ = './...'`` is a leaf config next to
  ``configs/fcn/``: it must load and pass the config checker.
"""
import re

import pytest

from .docs_blocks import DOC_FILES, REPO

FILE_TAG = re.compile(r'<!--\s*file:\s*(\S+)\s*-->')


def python_blocks():
    found = []
    for path in DOC_FILES:
        lines = path.read_text(encoding='utf-8').splitlines()
        for i, line in enumerate(lines):
            if line.strip() != '```python':
                continue
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith('```'))
            before = next((ln for ln in reversed(lines[:i]) if ln.strip()), '')
            tag = FILE_TAG.search(before)
            found.append((f'{path.name}:{i + 1}', '\n'.join(lines[i + 1:end]),
                          tag.group(1) if tag else None))
    return found


BLOCKS = python_blocks()
FILE_BLOCKS = [b for b in BLOCKS if b[2]]
LEAF_BLOCKS = [b for b in BLOCKS if not b[2] and b[1].startswith("_base_ = './")]


def test_docs_have_config_blocks():
    assert FILE_BLOCKS and LEAF_BLOCKS


@pytest.mark.parametrize('block', FILE_BLOCKS, ids=lambda b: b[0])
def test_file_block_equals_file(block):
    where, code, rel_path = block
    path = REPO / rel_path
    assert path.is_file(), f'{where} shows {rel_path}, which does not exist'
    assert code.strip() == path.read_text(encoding='utf-8').strip(), (
        f'{where} no longer matches {rel_path}: update the docs')


@pytest.mark.parametrize('block', LEAF_BLOCKS, ids=lambda b: b[0])
def test_leaf_block_loads_and_checks(block, tmp_path):
    from fcn_mm.utils.config_check import check_config, load_config
    where, code, _ = block
    fcn_dir = tmp_path / 'configs' / 'fcn'
    fcn_dir.mkdir(parents=True)
    (tmp_path / 'configs' / '_base_').symlink_to(REPO / 'configs' / '_base_')
    for leaf in (REPO / 'configs' / 'fcn').glob('*.py'):
        (fcn_dir / leaf.name).symlink_to(leaf)
    doc_config = fcn_dir / 'doc_snippet.py'
    doc_config.write_text(code + '\n', encoding='utf-8')
    cfg = load_config(str(doc_config))
    check_config(cfg, check_checkpoints=False)
