"""The model table of docs/model_zoo.md (written by tools/misc/model_table.py) is true.

Parameter counts are checked against models built here on the meta device (no memory, no
compute); GFLOPs against a count of the demo model's convolutions. That the table is what
the script writes now is checked by running ``model_table.py --check`` (a docs block).
"""
import copy
import glob
import importlib.util
import json
import os.path as osp
import re

import pytest
import torch
from torch import nn

from .docs_blocks import REPO

DOC = REPO / 'docs' / 'model_zoo.md'
CONFIGS = sorted(osp.basename(p) for p in glob.glob(str(REPO / 'configs' / 'fcn' / '*.py')))
ROW = re.compile(r'^\| `(?P<config>[^`]+)` \| (?P<backbone>[^|]+) \| (?P<classes>\d+) \| '
                 r'(?P<params>[\d,]+) \| (?P<params_infer>[\d,]+) \| (?P<gflops>[\d.]+) \| '
                 r'(?P<ms>[^|]+) \|$')


def _load_script():
    spec = importlib.util.spec_from_file_location(
        '_model_table', REPO / 'tools' / 'misc' / 'model_table.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_rows() -> dict:
    script = _load_script()
    text = DOC.read_text(encoding='utf-8')
    assert script.BEGIN in text and script.END in text, f'{DOC} lost its table markers'
    table = text[text.index(script.BEGIN):text.index(script.END)]
    rows = {}
    for line in table.splitlines():
        match = ROW.match(line)
        if match:
            rows[match['config']] = match.groupdict()
    return rows


ROWS = table_rows()


def _syncbn_to_bn(node):
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _syncbn_to_bn(value)
    elif isinstance(node, list):
        for value in node:
            _syncbn_to_bn(value)


def build_on_meta(name: str) -> nn.Module:
    from fcn_mm.registry import MODELS
    from fcn_mm.utils.config_check import load_config
    cfg = load_config(str(REPO / 'configs' / 'fcn' / name))
    model_cfg = copy.deepcopy(cfg._cfg_dict.to_dict()['model'])
    model_cfg['pretrained'] = None
    _syncbn_to_bn(model_cfg)
    with torch.device('meta'):
        return MODELS.build(model_cfg)


def _numel(module) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def test_table_lists_every_config():
    assert CONFIGS, 'no configs found under configs/fcn'
    assert sorted(ROWS) == CONFIGS


@pytest.mark.parametrize('name', CONFIGS)
def test_parameter_counts_equal_the_built_model(name):
    model = build_on_meta(name)
    row = ROWS[name]
    total = _numel(model)
    assert int(row['params'].replace(',', '')) == total
    assert int(row['params_infer'].replace(',', '')) == \
        total - _numel(getattr(model, 'auxiliary_head', None))  # None: no auxiliary head
    assert int(row['classes']) == model.decode_head.num_classes  # 2 for a 1-channel head


def test_r50_row_matches_mmsegmentation():
    # MMSegmentation 1.2.2's FCN-R50-D8 for 21 classes (DESIGN.md, mmseg_reference/)
    assert ROWS['fcn_r50-d8_480x480_voc.py']['params'] == '49,499,274'


def test_demo_gflops_equal_a_count_of_its_convolutions():
    model = build_on_meta('fcn_r18-d8_demo.py').eval()
    macs = []

    def count(conv, inputs, output):
        kernel = conv.weight.shape[1] * conv.weight.shape[2] * conv.weight.shape[3]
        macs.append(output.numel() * kernel)  # batch 1: one MAC per output value and tap

    handles = [m.register_forward_hook(count) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, 480, 480, device='meta'), mode='tensor')
    for handle in handles:
        handle.remove()
    assert ROWS['fcn_r18-d8_demo.py']['gflops'] == f'{2 * sum(macs) / 1e9:.1f}'


def test_markers_are_required_and_timings_are_read(tmp_path):
    script = _load_script()
    with pytest.raises(ValueError, match='zoo.md needs the lines'):
        script.replace_table('no markers here', '| table |', 'zoo.md')
    text = f'intro\n{script.BEGIN}\nold\n{script.END}\nrest\n'
    assert script.replace_table(text, 'new', 'zoo.md') == \
        f'intro\n{script.BEGIN}\nnew\n{script.END}\nrest\n'
    report = dict(config='configs/fcn/fcn_tv-mbv3l-d8_480x480_voc.py',
                  machine=dict(load_avg=[1.5, 1.0, 1.0], cpu='Some CPU'),
                  results=dict(infer=dict(median_s=0.25, batch=1, shape=[480, 480], threads=2,
                                          dtype='float32')))
    (tmp_path / 'fcn_tv-mbv3l-d8_480x480_voc.json').write_text(json.dumps(report))
    timings = script.load_timings(str(tmp_path))
    row = dict(config='fcn_tv-mbv3l-d8_480x480_voc.py', stem='fcn_tv-mbv3l-d8_480x480_voc',
               backbone='b', classes=21, params=10, params_infer=9, gflops=1.23)
    table = script.render_table([row], (480, 480), timings)
    assert '| 10 | 9 | 1.2 | 250 |' in table
    assert '2 thread(s), Some CPU, load average 1.5' in table
