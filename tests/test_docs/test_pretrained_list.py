"""docs/pretrained.md lists exactly the weight files the configs in configs/fcn/ name."""
import glob
import os.path as osp
import re

import torchvision

from fcn_mm.utils.config_check import checkpoint_names, load_config
from fcn_mm.utils.pretrained import checkpoint_file_name, checkpoint_url
from .docs_blocks import REPO, shell_blocks

PAGE = REPO / 'docs' / 'pretrained.md'
CONFIGS = sorted(glob.glob(str(REPO / 'configs' / 'fcn' / '*.py')))


def _table(heading: str) -> list:
    """The cells of each body row of the first table under ``heading``."""
    text = PAGE.read_text(encoding='utf-8')
    section = text.split(f'\n{heading}\n', 1)[1].split('\n## ', 1)[0]
    rows = [line for line in section.splitlines() if line.startswith('| ')]
    return [[cell.strip().strip('`') for cell in row.strip('|').split('|')]
            for row in rows[1:]]  # rows[0] is the header; the |---| line starts with '|-'


def _cfgs():
    return {osp.basename(path): load_config(path) for path in CONFIGS}


def test_the_table_of_needed_files_matches_the_configs():
    expected = {}
    for name, cfg in _cfgs().items():
        for ckpt, _ in checkpoint_names(cfg):
            entry = expected.setdefault(ckpt, (checkpoint_file_name(ckpt), checkpoint_url(ckpt),
                                               set()))
            entry[2].add(name)
    assert expected, 'no config names a pretrained checkpoint'
    listed = {row[0]: (row[1], row[2], {c.strip().strip('`') for c in row[3].split(',')})
              for row in _table('## Files the configs need')}
    assert listed == expected


def test_the_download_block_fetches_every_needed_file():
    rows = _table('## Files the configs need')
    block = next(b for b in shell_blocks(PAGE) if b.skip == 'network')
    lines = block.code.splitlines()
    assert len(lines) == len(rows)
    for (_, file_name, url, _), line in zip(rows, lines):
        assert line == (f'mkdir -p ~/.cache/fcn_mm/checkpoints && curl -L -o '
                        f'~/.cache/fcn_mm/checkpoints/{file_name} {url}')


def test_the_torchvision_table_gives_each_backbones_default_weights():
    expected = {}
    for name, cfg in _cfgs().items():
        backbone = cfg.model.backbone
        if backbone.type == 'TorchvisionBackbone':
            url = torchvision.models.get_model_weights(backbone.model_name).DEFAULT.url
            expected[name] = [backbone.model_name, osp.basename(url), url]
    assert len(expected) >= 4
    assert {row[0]: row[1:] for row in _table('## torchvision backbones')} == expected


def test_the_page_is_linked_from_the_readme_and_dataset_prepare():
    for doc in ('README.md', 'docs/dataset_prepare.md'):
        text = (REPO / doc).read_text(encoding='utf-8')
        assert re.search(r'\]\((docs/)?pretrained\.md\)', text), doc


def test_the_example_message_is_the_real_one(monkeypatch):
    from fcn_mm.utils.pretrained import resolve_checkpoint_name
    monkeypatch.setenv('FCN_MM_HOME', '/home/me/.cache/fcn_mm')
    monkeypatch.setenv('TORCH_HOME', '/home/me/.cache/torch')
    try:
        resolve_checkpoint_name('open-mmlab://resnet50_v1c', cfg_key='model.pretrained')
    except FileNotFoundError as e:
        message = f'FileNotFoundError: {e}'
    text = PAGE.read_text(encoding='utf-8')
    example = text.split('```text\n', 1)[1].split('\n```', 1)[0]
    assert example == message
