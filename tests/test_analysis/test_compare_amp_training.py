"""tools/analysis_tools/compare_amp_training.py: float32 vs --amp training over seeds."""
import json
import os
import statistics

import pytest
from mmengine.config import Config

SHORT = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
         'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2']


def _last_val(folder, key='mIoU'):
    """The last validation value of ``key`` in the run's scalars.json, read directly."""
    [stamp] = [d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))]
    with open(os.path.join(folder, stamp, 'vis_data', 'scalars.json'), encoding='utf-8') as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r[key] for r in records if key in r][-1]


def test_trains_both_precisions_and_reports_their_final_miou(tools, demo_config, tmp_path,
                                                             capsys):
    TOOL, (config, data_options) = tools.compare_amp_training, demo_config
    work_dir = tmp_path / 'check'
    argv = [config, '--seeds', '3', '--work-dir', str(work_dir), '--threads', '1',
            '--tolerance', '100', '--cfg-options',
            *data_options(str(tmp_path / 'data')), *SHORT]
    assert TOOL.main(argv) == 0
    out = capsys.readouterr().out
    fp32 = _last_val(work_dir / 'fp32_seed3')
    amp = _last_val(work_dir / 'amp_seed3')
    assert f'| 3 | {fp32:.2f} | {amp:.2f} | {amp - fp32:+.2f} |' in out
    # the amp run trained under AmpOptimWrapper with autocast, the fp32 run without
    amp_cfg = Config.fromfile(str(work_dir / 'amp_seed3' / 'fcn_r18-d8_demo.py'))
    fp32_cfg = Config.fromfile(str(work_dir / 'fp32_seed3' / 'fcn_r18-d8_demo.py'))
    assert amp_cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert amp_cfg.optim_wrapper.get('dtype') in (None, 'bfloat16', 'float16')
    assert (fp32_cfg.optim_wrapper.type == 'OptimWrapper'
            or fp32_cfg.optim_wrapper.get('dtype') == 'float32')
    assert amp_cfg.randomness.seed == 3 and fp32_cfg.randomness.seed == 3

    # a second call reuses both finished runs instead of training again
    assert TOOL.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count('reusing the finished run') == 2
    assert len(os.listdir(work_dir / 'fp32_seed3')) == len(os.listdir(work_dir / 'amp_seed3'))
    assert f'| 3 | {fp32:.2f} | {amp:.2f} |' in out

    # a gap beyond the tolerance gives exit status 1
    if abs(amp - fp32) > 0.005:
        tight = argv[:argv.index('--tolerance')] + ['--tolerance', '0'] + \
            argv[argv.index('--tolerance') + 2:]
        assert TOOL.main(tight) == 1


def test_a_run_without_enough_iterations_counts_as_unfinished(tools, tmp_path):
    TOOL = tools.compare_amp_training
    folder = tmp_path / 'fp32_seed0' / '20260101_000000' / 'vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(
        json.dumps(dict(loss=1.0, iter=2, step=2)) + '\n'
        + json.dumps(dict(aAcc=50.0, mIoU=40.0, step=2)) + '\n')
    assert TOOL.final_metric(str(tmp_path / 'fp32_seed0'), 'mIoU') == (2, 40.0)
    assert TOOL.final_metric(str(tmp_path / 'fp32_seed0'), 'mIoU', max_iters=4) is None
    assert TOOL.final_metric(str(tmp_path / 'fp32_seed0'), 'mDice') is None
    assert TOOL.final_metric(str(tmp_path / 'missing'), 'mIoU') is None


def test_summary_matches_statistics_module(tools):
    TOOL = tools.compare_amp_training
    fp32 = [89.75, 88.1, 90.3]
    amp = [88.33, 89.9, 87.87]
    results = [TOOL.RunResult(i, 'fp32', v, 10) for i, v in enumerate(fp32)] + \
        [TOOL.RunResult(i, 'amp', v, 10) for i, v in enumerate(amp)]
    summary = TOOL.summarize(results, 'mIoU')
    assert summary['fp32_mean'] == pytest.approx(statistics.mean(fp32))
    assert summary['fp32_std'] == pytest.approx(statistics.stdev(fp32))
    assert summary['amp_std'] == pytest.approx(statistics.stdev(amp))
    assert summary['gap'] == pytest.approx(statistics.mean(amp) - statistics.mean(fp32))
    table = TOOL.format_table(results, 'mIoU')
    assert '| 1 | 88.10 | 89.90 | +1.80 |' in table
    with pytest.raises(ValueError, match='no amp run'):
        TOOL.summarize(results[:3], 'mIoU')


def test_failed_training_and_missing_config_are_named(tools, demo_config, tmp_path):
    TOOL, (config, data_options) = tools.compare_amp_training, demo_config
    with pytest.raises(SystemExit, match='does not exist'):
        TOOL.main([str(tmp_path / 'nope.py'), '--seeds', '0'])
    argv = [config, '--seeds', '0', '--work-dir', str(tmp_path / 'check'),
            '--threads', '1', '--cfg-options', *data_options(str(tmp_path / 'data')),
            *SHORT, 'model.backbone.depth=7']
    with pytest.raises(SystemExit, match=r'fp32 run of seed 0 failed .*fp32_seed0'):
        TOOL.main(argv)


def test_float32_run_of_an_amp_config_turns_autocast_off(tools):
    command = tools.compare_amp_training.train_command
    fp32 = command('c.py', 'w', 1, 'fp32', ['a=1'], config_amp=True)
    assert fp32[-4:] == ['--cfg-options', 'randomness.seed=1', 'optim_wrapper.dtype=float32',
                         'a=1'] and '--amp' not in fp32
    amp = command('c.py', 'w', 1, 'amp', ['a=1'], config_amp=True)
    assert '--amp' in amp and 'optim_wrapper.dtype=float32' not in amp
    assert 'optim_wrapper.dtype=bfloat16' in amp  # never left to the CPU's bf16 probe
    chosen = command('c.py', 'w', 1, 'amp', ['optim_wrapper.dtype=float16'])
    assert 'optim_wrapper.dtype=bfloat16' not in chosen
    plain = command('c.py', 'w', 1, 'fp32', [], config_amp=False)
    assert plain[-2:] == ['--cfg-options', 'randomness.seed=1']
