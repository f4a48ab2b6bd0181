"""tools/analysis_tools/analyze_logs.py and fcn_mm.analysis.log_plots."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from fcn_mm.analysis.log_plots import load_scalar_log, plot_curves


def test_curves_png_has_one_panel_per_key(demo_run, tools, tmp_path):
    out = str(tmp_path / 'curves.png')
    tools.analyze_logs.main([demo_run.work_dir, '--keys', 'loss', 'mIoU', 'decode.acc_seg',
                             '--out', out, '--dpi', '50'])
    image = np.asarray(Image.open(out).convert('RGB'))
    # 6.4 x 4.0 inches per panel, three panels stacked, at 50 dpi
    assert image.shape == (round(3 * 4.0 * 50), round(6.4 * 50), 3)
    assert image.std() > 10  # axes and curves drawn, not a blank canvas


def test_training_log_holds_every_step_and_validation(demo_run):
    log = load_scalar_log(demo_run.work_dir)
    assert [step for step, _ in log.train['loss']] == [1, 2, 3, 4]
    assert [step for step, _ in log.val['mIoU']] == [2, 4]
    terms = [key for key in log.train if key.endswith('.loss_ce')]
    assert 'decode.loss_ce' in terms  # (and aux.loss_ce for a model with an auxiliary head)
    for step, (_, total) in enumerate(log.train['loss']):
        parts = [log.train[key][step][1] for key in terms]
        assert total == pytest.approx(sum(parts), rel=1e-4)
    # the last validation ran on the weights of the final checkpoint, as tools/test.py did
    assert log.val['mIoU'][-1][1] == pytest.approx(demo_run.metrics['mIoU'], abs=0.01)


def _write_run(work_dir, stamp, train_steps, val_steps):
    folder = work_dir / stamp / 'vis_data'
    folder.mkdir(parents=True)
    lines = [dict(loss=10.0 / step, lr=0.01, iter=step, step=step) for step in train_steps]
    lines += [dict(aAcc=90.0, mIoU=float(step), mAcc=80.0, step=step) for step in val_steps]
    lines.sort(key=lambda record: (record['step'], 'mIoU' in record))
    (folder / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in lines))
    return str(folder / 'scalars.json')


def test_resumed_run_is_joined_to_the_run_it_continues(tmp_path):
    first = _write_run(tmp_path, '20250101_000000', range(1, 7), [4])  # crashed after 6
    second = _write_run(tmp_path, '20250101_010000', range(5, 9), [8])  # resumed from iter 4
    (tmp_path / '20250101_020000').mkdir()  # a test run: no scalars
    log = load_scalar_log(str(tmp_path))
    assert [step for step, _ in log.train['loss']] == list(range(1, 9))
    assert log.val['mIoU'] == [(4, 4.0), (8, 8.0)]
    assert log.sources == [first, second]


def test_run_started_from_scratch_hides_earlier_runs(tmp_path):
    _write_run(tmp_path, '20250101_000000', range(1, 7), [4])
    newest = _write_run(tmp_path, '20250101_010000', range(1, 3), [])
    log = load_scalar_log(str(tmp_path))
    assert [step for step, _ in log.train['loss']] == [1, 2]
    assert log.sources == [newest]
    # a run folder or a file reads that run only
    first = load_scalar_log(str(tmp_path / '20250101_000000'))
    assert [step for step, _ in first.train['loss']] == list(range(1, 7))


def test_unknown_key_names_the_logged_keys(tmp_path):
    _write_run(tmp_path, '20250101_000000', [1, 2], [2])
    log = load_scalar_log(str(tmp_path))
    with pytest.raises(KeyError, match=r'mIoUU.*logged keys.*aAcc.*loss.*lr.*mIoU'):
        plot_curves([log], ['mIoUU'], str(tmp_path / 'out.png'))
    assert not os.path.exists(tmp_path / 'out.png')


def test_missing_and_broken_logs_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match='vis_data/scalars.json'):
        load_scalar_log(str(tmp_path))
    path = _write_run(tmp_path, '20250101_000000', [1], [])
    with open(path, 'a', encoding='utf-8') as f:
        f.write('{"loss": 1.0, \n')
    with pytest.raises(ValueError, match=r'scalars.json:2 is not valid JSON'):
        load_scalar_log(path)


def test_legend_count_must_match_the_logs(tools, tmp_path):
    with pytest.raises(SystemExit):
        tools.analyze_logs.parse_args(['a', 'b', '--legend', 'only-one'])
