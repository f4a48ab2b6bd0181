"""The parts of the service without a server: decoding refusals, the responses, the
dynamic batcher and the metrics text."""
import io
import struct
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image
from serving_helpers import image_bytes, random_image

from fcn_mm.apis.serving import (DynamicBatcher, QueueFull, RequestRejected, ServiceMetrics,
                                 class_summary, decode_image, label_png)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height (a decompression bomb's header) with one tiny IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header)
            + chunk(b'IDAT', zlib.compress(b'\0' * 16)) + chunk(b'IEND', b''))


NOISE = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
NOISE_PNG, NOISE_JPEG = image_bytes(NOISE, 'PNG'), image_bytes(NOISE, 'JPEG')


@pytest.mark.parametrize('fmt', ['PNG', 'WEBP'])
def test_lossless_images_decode_to_the_same_bgr_array(fmt):
    image = random_image(20, 28)
    decoded = decode_image(image_bytes(image, fmt), max_pixels=20 * 28)
    np.testing.assert_array_equal(decoded, image)


def test_jpeg_grey_and_alpha_images_become_three_channels():
    buffer = io.BytesIO()
    Image.new('L', (9, 7), 200).save(buffer, format='JPEG')
    grey = decode_image(buffer.getvalue(), 100)
    assert grey.shape == (7, 9, 3) and abs(int(grey[3, 4, 0]) - 200) <= 2
    buffer = io.BytesIO()
    Image.new('RGBA', (5, 4), (10, 20, 30, 0)).save(buffer, format='PNG')
    np.testing.assert_array_equal(decode_image(buffer.getvalue(), 100)[0, 0], [30, 20, 10])


@pytest.mark.parametrize('data,status,message', [
    (b'', 400, 'empty body'),
    (b'this is not an image at all', 400, 'is not a JPEG, PNG or WebP image'),
    (NOISE_PNG[:len(NOISE_PNG) // 2], 400, 'truncated or corrupt PNG'),
    (NOISE_JPEG[:len(NOISE_JPEG) // 2], 400, 'truncated or corrupt JPEG'),
    (png_header_only(40000, 40000), 413, 'over the limit of 5000 pixels'),
    (png_header_only(71, 71), 413, '71x71 = 5041 pixels is over the limit of 5000'),
])
def test_bad_bytes_are_refused_with_status_and_reason(data, status, message):
    with pytest.raises(RequestRejected, match=message) as info:
        decode_image(data, max_pixels=5000)
    assert info.value.status == status


def test_other_image_formats_are_415():
    buffer = io.BytesIO()
    Image.new('RGB', (4, 4)).save(buffer, format='GIF')
    with pytest.raises(RequestRejected, match='unsupported image format GIF') as info:
        decode_image(buffer.getvalue(), 100)
    assert info.value.status == 415


def test_class_summary_counts_shares_and_boxes():
    labels = np.zeros((6, 8), dtype=np.uint8)
    labels[1:3, 2:5] = 3  # 6 pixels, x 2..4, y 1..2
    labels[5, 7] = 30     # beyond the class names: named by its number
    palette = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2], [9, 8, 7]], dtype=np.uint8)
    summary = class_summary(labels, ('bg', 'a', 'b', 'c'), palette)
    assert [c['index'] for c in summary] == [0, 3, 30]
    assert summary[1] == dict(index=3, name='c', color=[9, 8, 7], pixels=6, share=6 / 48,
                              bbox=[2, 1, 5, 3])
    assert summary[0]['pixels'] == 48 - 7 and summary[2]['name'] == '30'
    assert summary[2]['bbox'] == [7, 5, 8, 6]


def test_label_png_is_indexed_with_the_palette():
    labels = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    palette = np.array([[10, 20, 30], [40, 50, 60], [70, 80, 90]], dtype=np.uint8)
    image = Image.open(io.BytesIO(label_png(labels, palette)))
    assert image.mode == 'P'
    np.testing.assert_array_equal(np.asarray(image), labels)
    np.testing.assert_array_equal(np.asarray(image.convert('RGB'))[1, 0], [70, 80, 90])
    with pytest.raises(ValueError, match='0..255'):
        label_png(np.array([[300]]), palette)


def test_batcher_groups_same_keys_and_keeps_others_queued():
    started, release, batches = threading.Event(), threading.Event(), []

    def run_batch(items):
        batches.append(list(items))
        started.set()
        release.wait(10)
        return [f'r{item}' for item in items]
    batcher = DynamicBatcher(run_batch, max_batch=3, max_wait_s=0.0, queue_size=5)
    try:
        first = batcher.submit('a', 0)
        assert started.wait(10)  # the worker is busy with [0]
        futures = [batcher.submit(key, item)
                   for key, item in [('b', 1), ('c', 2), ('b', 3), ('b', 4), ('b', 5)]]
        with pytest.raises(QueueFull, match='5 requests are queued'):
            batcher.submit('b', 6)
        assert batcher.depth == 5
        release.set()
        assert [f.result(10) for f in [first] + futures] == [f'r{i}' for i in range(6)]
        # same size together up to max_batch, in arrival order; 'c' alone
        assert batches == [[0], [1, 3, 4], [2], [5]]
    finally:
        release.set()
        batcher.stop()


def test_batcher_waits_for_a_batch_and_survives_a_failing_one():
    calls = []

    def run_batch(items):
        calls.append(len(items))
        if 'bad' in items:
            raise ValueError('broken input')
        return items
    patient = DynamicBatcher(run_batch, max_batch=4, max_wait_s=30.0, queue_size=8)
    try:
        futures = [patient.submit('k', i) for i in range(4)]
        assert [f.result(10) for f in futures] == [0, 1, 2, 3]
        assert calls == [4]  # a full batch goes at once, long before max_wait_s
    finally:
        patient.stop()
    batcher = DynamicBatcher(run_batch, max_batch=4, max_wait_s=0.3, queue_size=8)
    try:
        start = time.monotonic()
        bad = batcher.submit('k', 'bad')
        with pytest.raises(ValueError, match='broken input'):
            bad.result(10)
        assert time.monotonic() - start >= 0.29  # alone, it waited max_wait_s for more
        assert batcher.submit('other', 7).result(10) == 7  # the thread still serves
    finally:
        batcher.stop()
    with pytest.raises(ValueError, match='max_batch must be >= 1'):
        DynamicBatcher(run_batch, max_batch=0)


def test_metrics_text_format():
    metrics = ServiceMetrics(lambda: 3, queue_size=9)
    metrics.observe_request('/predict', 200, 0.02)
    metrics.observe_request('/predict', 200, 3.0)
    metrics.observe_request('/predict', 413, 0.001)
    metrics.observe_batch(2)
    text = metrics.render()
    assert 'fcn_mm_serve_requests_total{path="/predict",status="200"} 2' in text
    assert 'fcn_mm_serve_requests_total{path="/predict",status="413"} 1' in text
    assert 'fcn_mm_serve_request_duration_seconds_bucket{path="/predict",le="0.025"} 2' in text
    assert 'fcn_mm_serve_request_duration_seconds_bucket{path="/predict",le="+Inf"} 3' in text
    assert 'fcn_mm_serve_request_duration_seconds_count{path="/predict"} 3' in text
    assert 'fcn_mm_serve_batch_size_bucket{le="1.0"} 0' in text
    assert 'fcn_mm_serve_batch_size_bucket{le="2.0"} 1' in text
    assert 'fcn_mm_serve_queue_depth 3' in text and 'fcn_mm_serve_queue_capacity 9' in text
    for line in text.splitlines():  # every sample line: name{labels} value
        assert line.startswith('#') or len(line.rsplit(' ', 1)) == 2
