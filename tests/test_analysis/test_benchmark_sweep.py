"""benchmark.py --sweep at tiny sizes: the points, the derived figures, table and plot."""
import pytest
from PIL import Image
from perf_utils import load_tool

from fcn_mm.analysis.benchmark import (format_sweep, overlap_factor, parse_shape,
                                       plot_sweep, run_sweep, slide_test_cfg, sweep_markdown)
from fcn_mm.models.segmentors.encoder_decoder import slide_windows
from fcn_mm.utils.config_check import load_config

SHAPES = ((32, 32), (40, 56))


@pytest.fixture(scope='module')
def sweep(tiny_config):
    return run_sweep(tiny_config, shapes=SHAPES, train_batches=(1, 2), warmup=0, repeat=1,
                     threads=1, peak_sizes=(), isolate=False)


def test_sweep_measures_every_point_in_order(sweep):
    kinds = [(r['kind'], tuple(r['shape']), r['batch']) for r in sweep['rows']]
    assert kinds == [('whole', (32, 32), 1), ('slide', (32, 32), 1),
                     ('whole', (40, 56), 1), ('slide', (40, 56), 1),
                     ('train', (32, 32), 1), ('train', (32, 32), 2)]
    # the tiny config has no slide test_cfg: windows of its 32x32 crop every 2/3 crop
    assert sweep['slide_test_cfg'] == dict(mode='slide', crop_size=[32, 32], stride=[22, 22],
                                           windows_per_forward=1)
    for row in sweep['rows']:
        assert row['median_s'] > 0 and row['flops'] > 0 and row['peak_mem_mb'] > 0
        pixels = row['batch'] * row['shape'][0] * row['shape'][1] / 1e6
        assert row['megapixels'] == pytest.approx(pixels)
        assert row['s_per_image'] == pytest.approx(row['median_s'] / row['batch'])
        assert row['s_per_megapixel'] == pytest.approx(row['median_s'] / pixels)
        assert row['step_mem_mb'] == pytest.approx(row['peak_mem_mb'] - row['mem_before_mb'])
        assert row['dtype'] == 'float32' and row['threads'] == 1


def test_slide_points_count_their_windows_and_overhead(sweep):
    rows = {(r['kind'], tuple(r['shape'])): r for r in sweep['rows']}
    whole_32 = rows[('whole', (32, 32))]
    for shape in SHAPES:
        slide, whole = rows[('slide', shape)], rows[('whole', shape)]
        windows = slide_windows(*shape, (32, 32), (22, 22))
        assert slide['windows'] == len(windows)
        assert slide['overlap'] == pytest.approx(len(windows) * 32 * 32 / (shape[0] * shape[1]))
        # the network runs once per 32x32 window: the FLOPs of as many 32x32 images
        assert slide['flops'] == len(windows) * whole_32['flops']
        assert slide['slide_overhead'] == pytest.approx(
            slide['median_s'] / (whole['median_s'] * slide['overlap']))
    assert rows[('slide', (40, 56))]['windows'] == 6
    train = [r for r in sweep['rows'] if r['kind'] == 'train']
    assert train[1]['flops'] == 2 * train[0]['flops']


def test_sweep_table_markdown_and_plot(sweep, tmp_path):
    text = format_sweep(sweep)
    for fragment in ('| infer whole', '| infer slide', '| train step', 's/Mpx',
                     'slide overhead', 'slide windows (32, 32) every (22, 22), 1 per forward'):
        assert fragment in text
    markdown = sweep_markdown(sweep).splitlines()
    table = [line for line in markdown if line.startswith('|')]
    assert len(table) == 2 + len(sweep['rows'])
    assert table[0].startswith('| step | batch x HxW | Mpx/step |') and set(table[1]) <= set('|-')
    assert table[3].startswith('| infer slide | 1 x 32x32 |')
    png = plot_sweep(sweep, str(tmp_path / 'sweep.png'))
    with Image.open(png) as image:
        assert image.format == 'PNG' and image.size == (1100, 420)


def test_slide_settings_come_from_the_config_or_the_options(tiny_config):
    cfg = load_config(tiny_config)
    assert slide_test_cfg(cfg, crop=(16, 24), windows_per_forward=3) == dict(
        mode='slide', crop_size=[16, 24], stride=[11, 16], windows_per_forward=3)
    cfg.model.test_cfg = dict(mode='slide', crop_size=(20, 20), stride=(10, 10),
                              windows_per_forward=None)
    assert slide_test_cfg(cfg) == dict(mode='slide', crop_size=[20, 20], stride=[10, 10],
                                       windows_per_forward=None)
    # a 10x10 image is padded to the 20x20 window: the network sees 4x its pixels
    assert overlap_factor((10, 10), slide_test_cfg(cfg)) == (1, 4.0)


@pytest.mark.parametrize('text', ['480', '480x', 'ax3', '0x5', '4x4x4'])
def test_bad_sweep_shape_is_rejected(text):
    with pytest.raises(ValueError, match=f'a sweep shape must be HxW.*got {text!r}'):
        parse_shape(text)
    assert parse_shape('512X1024') == (512, 1024)


def test_cli_reads_the_sweep_options_and_needs_sweep_for_a_plot(tiny_config, tmp_path):
    tool = load_tool('benchmark')
    args = tool.parse_args([tiny_config, '--sweep', '--sweep-shapes', '64x64', '32x48',
                            '--sweep-train-batches', '--slide-crop', '16', '16',
                            '--windows-per-forward', '4'])
    assert args.sweep and args.sweep_shapes == [(64, 64), (32, 48)]
    assert args.sweep_train_batches == [] and args.slide_crop == [16, 16]
    assert args.windows_per_forward == 4 and args.repeat is None
    defaults = tool.parse_args([tiny_config, '--sweep'])
    assert defaults.sweep_shapes == [(256, 256), (480, 480), (512, 1024), (1024, 2048)]
    assert defaults.sweep_train_batches == [1, 2, 4]
    with pytest.raises(SystemExit, match='--plot and --markdown draw a --sweep'):
        tool.main([tiny_config, '--plot', str(tmp_path / 'x.png')])


def test_sweep_needs_some_work(tiny_config):
    with pytest.raises(ValueError, match='at least one inference shape or training batch'):
        run_sweep(tiny_config, shapes=(), train_batches=(), isolate=False)
