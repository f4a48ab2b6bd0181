"""tools/analysis_tools/browse_dataset.py."""
import os
import re

import numpy as np
import pytest
from PIL import Image


def test_train_split_writes_num_pngs_of_image_and_labels(demo_run, tools, tmp_path):
    out = tmp_path / 'browse'
    written = tools.browse_dataset.main([demo_run.config, '--output-dir', str(out), '--num',
                                         '3', '--cfg-options'] + demo_run.options)
    files = sorted(os.listdir(out))
    assert len(files) == 3 and sorted(os.path.basename(w) for w in written) == files
    for name in files:
        assert re.fullmatch(r'\d{3}_train_\d{4}\.png', name), name
        image = np.asarray(Image.open(out / name).convert('RGB'))
        height, width, _ = image.shape
        # image | label overlay, each at most the 128x128 training crop
        assert width == 2 * height and 0 < height <= 128
        left, right = image[:, :height], image[:, height:]
        assert not np.array_equal(left, right)


def test_val_split_draws_at_the_labels_size(demo_run, tools, tmp_path):
    # the test pipeline resizes the 64x64 images to 128x128 but keeps the labels at 64x64
    out = tmp_path / 'browse_val'
    written = tools.browse_dataset.main([demo_run.config, '--output-dir', str(out), '--num',
                                         '10', '--split', 'val', '--cfg-options']
                                        + demo_run.options)
    assert len(written) == 4  # only 4 validation images
    for path in written:
        assert Image.open(path).size == (128, 64)


def test_num_must_be_positive(tools):
    with pytest.raises(SystemExit):
        tools.browse_dataset.parse_args(['cfg.py', '--num', '0'])
