"""The page in a real browser: ``tools/serve.py`` in a subprocess (the command line, on a
free loopback port), Debian's Chromium driven by Playwright. An image is dropped on the
page (a drop event with a DataTransfer) and then picked with the file input; the overlay
canvas and the per-class table must show what inference_model gives. Chromium is not
optional: .ci/run installs it, and a missing browser fails this test."""
import base64
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import pytest
from serving_helpers import REPO, TINY_CONFIG, image_bytes, random_image, varied_checkpoint

from fcn_mm.apis import inference_model, init_model

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run']
DROP_FILE = """([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: 'image/png' }));
  const zone = document.getElementById('drop-zone');
  zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true,
                                                 cancelable: true }));
  zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true,
                                             cancelable: true }));
}"""
CANVAS_PIXELS = """() => {
  const canvas = document.getElementById('overlay');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  return [canvas.width, canvas.height, Array.from(data)];
}"""
TABLE_ROWS = """() => Array.from(document.querySelectorAll('#class-table tbody tr'))
  .map((row) => Array.from(row.cells).map((cell) => cell.textContent))"""


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    """(url, model) of tools/serve.py running the tiny model on a free port."""
    folder = tmp_path_factory.mktemp('browser')
    checkpoint = varied_checkpoint(str(folder / 'tiny.pth'))
    proc = subprocess.Popen(
        [sys.executable, osp.join(REPO, 'tools', 'serve.py'), TINY_CONFIG, checkpoint,
         '--port', '0', '--max-batch', '2', '--log-level', 'warning'],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines, deadline = [], time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            if line.startswith('serving on http://127.0.0.1:'):
                url = line.split()[2]
                break
        else:
            url = None
        assert proc.poll() is None and url, ''.join(lines)
        yield url, init_model(TINY_CONFIG, checkpoint)
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope='module')
def browser():
    assert osp.isfile(CHROMIUM), (f'{CHROMIUM} is missing: apt-get install chromium '
                                  '(.ci/run does it)')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _wait_for_result(page) -> str:
    page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)",
                           timeout=30000)
    return page.evaluate('document.body.dataset.state')


def _check_page_shows(page, model, image, opacity):
    """The canvas is the blend of the image and the label colours; the table lists the
    classes of inference_model with their pixel counts."""
    labels = inference_model(model, image).pred_sem_seg.data[0].numpy()
    palette = np.asarray(model.dataset_meta['palette'], dtype=np.float64)
    width, height, data = page.evaluate(CANVAS_PIXELS)
    assert (width, height) == (image.shape[1], image.shape[0])
    drawn = np.asarray(data, dtype=np.float64).reshape(height, width, 4)[:, :, :3]
    want = image[:, :, ::-1] * (1 - opacity) + palette[labels] * opacity
    assert np.abs(drawn - want).max() <= 2
    rows = page.evaluate(TABLE_ROWS)
    present, counts = np.unique(labels, return_counts=True)
    assert len(present) > 2
    assert [(r[0], int(r[1])) for r in rows] == \
        [(model.dataset_meta['classes'][c], int(n)) for c, n in zip(present, counts)]
    legend = page.locator('#legend li').all_text_contents()
    assert legend == [r[0] for r in rows]


def test_page_segments_a_dropped_and_a_picked_image(served, browser, tmp_path):
    url, model = served
    page = browser.new_page()
    problems = []
    page.on('pageerror', lambda error: problems.append(f'page error: {error}'))
    page.on('console', lambda msg: msg.type == 'error' and problems.append(msg.text))
    page.goto(url)
    page.wait_for_function("document.getElementById('model-info').textContent"
                           ".includes('tiny.pth')", timeout=30000)
    assert page.locator('#result').is_hidden()

    dropped = random_image(48, 64, seed=11)
    page.evaluate(DROP_FILE, [base64.b64encode(image_bytes(dropped)).decode(), 'drop.png'])
    assert _wait_for_result(page) == 'done', page.locator('#error').text_content()
    assert page.locator('#error').is_hidden() and page.locator('#overlay').is_visible()
    _check_page_shows(page, model, dropped, opacity=0.5)
    if os.environ.get('FCN_MM_SERVE_SCREENSHOT'):  # to look at the page by hand
        page.screenshot(path=os.environ['FCN_MM_SERVE_SCREENSHOT'], full_page=True)
    page.locator('#opacity').fill('1')  # the slider redraws without a new request
    _check_page_shows(page, model, dropped, opacity=1.0)

    picked = random_image(40, 56, seed=12)
    path = tmp_path / 'picked.png'
    path.write_bytes(image_bytes(picked))
    page.set_input_files('#file-input', str(path))
    assert _wait_for_result(page) == 'done', page.locator('#error').text_content()
    _check_page_shows(page, model, picked, opacity=1.0)
    assert problems == []

    # a file that is not an image: the page says what the server said
    (tmp_path / 'notes.png').write_bytes(b'not an image')
    page.set_input_files('#file-input', str(tmp_path / 'notes.png'))
    assert _wait_for_result(page) == 'error'
    assert 'cannot segment notes.png: 400: the body (12 bytes) is not a JPEG, PNG or WebP' \
        in page.locator('#error').text_content()
    page.close()
