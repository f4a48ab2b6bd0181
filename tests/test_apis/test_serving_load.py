"""The load-test tool, shortened (slow tier): tools/analysis_tools/serve_load_test.py runs
tools/serve.py with --max-batch 1 and 4, every answer right, batches of more than one
image only where allowed."""
import json
import os.path as osp
import subprocess
import sys

import pytest
from serving_helpers import REPO, TINY_CONFIG

pytestmark = pytest.mark.slow


def test_load_tool_compares_batching_with_single_images(tmp_path):
    out = tmp_path / 'load.json'
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'analysis_tools', 'serve_load_test.py'),
         TINY_CONFIG, '--clients', '6', '--duration', '4', '--max-batch', '1', '4',
         '--max-wait-ms', '20', '--size', '32', '32', '--images', '3', '--threads', '1',
         '--out', str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())['results']
    assert [r['max_batch'] for r in results] == [1, 4]
    for row in results:
        assert row['ok'] > 0 and row['errors'] == 0 and row['wrong'] == 0
        assert row['requests'] == row['ok'] + row['busy_503']
        assert row['p50_ms'] <= row['p99_ms'] and row['throughput'] > 0
        assert row['classes_per_image'] > 1  # the labels vary: the check compares something
    assert results[0]['mean_batch'] == 1.0
    assert 1.0 <= results[1]['mean_batch'] <= 4.0
    assert 'throughput of --workers 1 --max-batch 4 / --workers 1 --max-batch 1' in proc.stdout
