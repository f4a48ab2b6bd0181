"""The service on a loopback port: every endpoint, every refusal (status and message, and
the server answers afterwards), labels equal to inference_model, a few concurrent
requests, and a full queue answering 503."""
import io
import threading
import time

import numpy as np
import pytest
from PIL import Image
from serving_helpers import (TINY_CONFIG, ServerThread, http_request, image_bytes, multipart,
                             random_image, varied_checkpoint)

from fcn_mm.apis import inference_model
from fcn_mm.apis.serving import SegmentationRunner, near_ties
from fcn_mm.apis.serving.app import ServeSettings, build_app
from fcn_mm.visualization.overlay import draw_legend

MAX_PIXELS = 96 * 96
MAX_BODY = 200_000


@pytest.fixture(scope='module')
def runner(tmp_path_factory):
    checkpoint = varied_checkpoint(str(tmp_path_factory.mktemp('serve') / 'tiny.pth'))
    return SegmentationRunner(TINY_CONFIG, checkpoint)


@pytest.fixture(scope='module')
def server(runner):
    settings = ServeSettings(max_pixels=MAX_PIXELS, max_body_bytes=MAX_BODY, max_batch=4,
                             max_wait_ms=20, queue_size=16, workers=1)
    with ServerThread(build_app(runner, settings)) as running:
        yield running


@pytest.fixture(scope='module')
def probe(runner):
    """An image and its labels from inference_model: the check that the server still works."""
    image = random_image(32, 32, seed=9)
    return image_bytes(image), expected_labels(runner, image)


def post_image(port, data, content_type='image/png', query='', headers=None):
    return http_request(port, 'POST', f'/predict{query}', data,
                        dict({'Content-Type': content_type}, **(headers or {})))


def expected_labels(runner, image):
    return inference_model(runner.model, image).pred_sem_seg.data[0].numpy()


def assert_still_serving(port):
    reply = http_request(port, 'GET', '/healthz')
    assert reply.status == 200 and reply.json()['status'] == 'ok'


def test_label_png_equals_inference_model(server, runner):
    image = random_image(40, 56, seed=3)
    reply = post_image(server.port, image_bytes(image), query='?format=png')
    assert reply.status == 200 and reply.headers['content-type'] == 'image/png'
    assert reply.headers['x-config'] == 'fcn_r18-tiny_32x32.py'
    assert reply.headers['x-model'] == 'tiny.pth'
    assert reply.headers['x-precision'] == 'float32'
    png = Image.open(io.BytesIO(reply.body))
    assert png.mode == 'P'
    labels = np.asarray(png)
    expected = expected_labels(runner, image)
    assert len(np.unique(expected)) > 2  # a test that could fail
    np.testing.assert_array_equal(labels, expected)
    colours = np.asarray(png.getpalette()[:3 * len(runner.classes)]).reshape(-1, 3)
    np.testing.assert_array_equal(colours, runner.palette)


def test_json_summary_by_accept_and_multipart(server, runner):
    image = random_image(33, 47, seed=4)
    body, content_type = multipart({'note': (None, b'x'), 'file': ('a.png', image_bytes(image))})
    reply = post_image(server.port, body, content_type, headers={'Accept': 'application/json'})
    assert reply.status == 200, reply.body
    summary = reply.json()
    assert (summary['model'], summary['config'], summary['precision']) == \
        ('tiny.pth', 'fcn_r18-tiny_32x32.py', 'float32')
    assert (summary['height'], summary['width']) == (33, 47)
    labels = expected_labels(runner, image)
    present = np.unique(labels)
    assert [c['index'] for c in summary['classes']] == present.tolist()
    for entry in summary['classes']:
        ys, xs = np.nonzero(labels == entry['index'])
        assert entry['pixels'] == len(ys)
        assert entry['share'] == pytest.approx(len(ys) / labels.size)
        assert entry['bbox'] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert entry['name'] == runner.classes[entry['index']]
    assert 'label_png' not in summary


def test_overlay_png_blends_at_the_opacity(server, runner):
    image = random_image(72, 96, seed=5)
    labels = expected_labels(runner, image)
    for opacity in (0.0, 1.0):
        reply = post_image(server.port, image_bytes(image, 'WEBP'), 'image/webp',
                           query=f'?format=overlay&opacity={opacity}')
        assert reply.status == 200 and reply.headers['content-type'] == 'image/png'
        drawn = np.asarray(Image.open(io.BytesIO(reply.body)).convert('RGB'))
        # outside the legend box (top-left corner): the image, or the class colours
        _, _, x1, y1 = draw_legend(np.zeros_like(image), labels, runner.classes,
                                   runner.palette)
        outside = np.ones(labels.shape, bool)
        outside[:y1, :x1] = False
        assert outside.sum() > 500
        want = image[:, :, ::-1] if opacity == 0 else runner.palette[labels]
        np.testing.assert_array_equal(drawn[outside], want[outside])
        assert (drawn[~outside] != want[~outside]).any()  # the legend is drawn


def test_page_healthz_and_metrics(server, runner):
    page = http_request(server.port, 'GET', '/')
    assert page.status == 200 and page.headers['content-type'].startswith('text/html')
    assert b'/static/app.js' in page.body and b'http' not in page.body.replace(
        b'http-equiv', b'')  # no CDN or other outside address
    for name, kind in [('app.js', 'text/javascript'), ('style.css', 'text/css')]:
        reply = http_request(server.port, 'GET', f'/static/{name}')
        assert reply.status == 200 and reply.headers['content-type'].startswith(kind)
        assert b'http://' not in reply.body and b'https://' not in reply.body
    health = http_request(server.port, 'GET', '/healthz').json()
    assert health['status'] == 'ok' and health['classes'] == list(runner.classes)
    assert health['backend'] == 'pytorch' and health['queue_size'] == 16
    post_image(server.port, b'')
    metrics = http_request(server.port, 'GET', '/metrics')
    assert metrics.headers['content-type'].startswith('text/plain; version=0.0.4')
    text = metrics.body.decode()
    assert 'fcn_mm_serve_requests_total{path="/predict",status="400"}' in text
    assert 'fcn_mm_serve_requests_total{path="/",status="200"}' in text
    assert 'fcn_mm_serve_request_duration_seconds_bucket{path="/predict",le="+Inf"}' in text
    assert 'fcn_mm_serve_batch_size_count' in text and 'fcn_mm_serve_queue_depth 0' in text


@pytest.mark.parametrize('path', [
    '/static/../setup.py', '/static/..%2F..%2Fsetup.py', '/static/%2e%2e%2fsetup.py',
    '/static/index.html%00.py', '/static/serving_helpers.py', '/static//etc/passwd',
    '/../../etc/passwd', '/static/__init__.py'])
def test_no_path_reads_a_file_beyond_the_page(server, path):
    reply = http_request(server.port, 'GET', path)
    assert reply.status == 404, (path, reply.body[:200])
    assert b'import' not in reply.body and b'root:' not in reply.body
    assert_still_serving(server.port)


def _png_claiming(width, height):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack(
            '>I', zlib.crc32(kind + data) & 0xffffffff)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b'IDAT', zlib.compress(b'\0' * 16)) + chunk(b'IEND', b''))


NOISE = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)


@pytest.mark.parametrize('name,send,status,message', [
    ('empty body', dict(data=b''), 400, 'empty body'),
    ('not an image', dict(data=b'GIF89a? no, plain text'), 400, 'is not a JPEG, PNG or WebP'),
    ('truncated image', dict(data=image_bytes(NOISE)[:3000]), 400, 'truncated or corrupt PNG'),
    ('too many pixels', dict(data=image_bytes(random_image(100, 100))), 413,
     f'100x100 = 10000 pixels is over the limit of {MAX_PIXELS} pixels'),
    ('decompression bomb', dict(data=_png_claiming(60000, 60000)), 413,
     'over the limit of 9216 pixels'),
    ('wrong content type', dict(data=b'{}', content_type='application/json'), 415,
     "Content-Type 'application/json' is not accepted"),
    ('no content type', dict(data=b'x', content_type=''), 415, "'(none)' is not accepted"),
    ('huge body', dict(data=b'\0' * (MAX_BODY + 1)), 413,
     f'{MAX_BODY + 1} bytes is over the limit of {MAX_BODY} bytes'),
    ('huge chunked multipart', dict(data=iter([b'--b\r\n'] + [b'\0' * 65536] * 4),
                                    content_type='multipart/form-data; boundary=b'), 413,
     f'over the limit of {MAX_BODY} bytes'),
    ('multipart without a file', dict(data=multipart({'x': (None, b'1')})[0],
                                      content_type=multipart({})[1]), 400, 'has no file'),
    ('multipart without boundary', dict(data=b'abc', content_type='multipart/form-data'), 400,
     'malformed multipart body'),
    ('bad format', dict(data=b'x', query='?format=jpeg'), 400, "format='jpeg' is not one of"),
    ('bad opacity', dict(data=b'x', query='?format=overlay&opacity=2'), 400,
     "opacity='2': expected a number in [0, 1]"),
    ('unanswerable Accept', dict(data=b'x', headers={'Accept': 'text/html'}), 406,
     'cannot answer Accept: text/html'),
])
def test_bad_input_gets_a_clear_4xx_and_the_server_goes_on(server, probe, name, send,
                                                         status, message):
    reply = post_image(server.port, send['data'], send.get('content_type', 'image/png'),
                       send.get('query', ''), send.get('headers'))
    assert reply.status == status, (name, reply.body)
    assert reply.json()['status'] == status
    assert message in reply.json()['error'], (name, reply.json())
    after = post_image(server.port, probe[0], query='?format=png')
    assert after.status == 200
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(after.body))), probe[1])


def test_wrong_method_and_unknown_path(server):
    assert http_request(server.port, 'GET', '/predict').status == 405
    assert http_request(server.port, 'POST', '/healthz', b'x').status == 405
    assert http_request(server.port, 'GET', '/nothing').status == 404
    assert_still_serving(server.port)


def test_concurrent_requests_of_two_sizes_are_all_correct(server, runner):
    """Batched answers equal inference_model's (one image at a time), but at near ties
    (best two logits within 1e-4: a batch runs other float32 kernels)."""
    images = [random_image(40, 40, seed=20 + i) for i in range(4)] + \
             [random_image(24, 36, seed=30 + i) for i in range(2)]
    replies = [None] * len(images)

    def send(i):
        replies[i] = post_image(server.port, image_bytes(images[i]), query='?format=png')
    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(images))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for image, reply in zip(images, replies):
        assert reply.status == 200
        sample = inference_model(runner.model, image)
        differ = np.asarray(Image.open(io.BytesIO(reply.body))) != \
            sample.pred_sem_seg.data[0].numpy()
        assert not (differ & ~near_ties(sample.seg_logits.data.numpy())).any()
        assert differ.mean() < 0.01


class _GatedRunner:
    """The runner, held at a gate: requests pile up in the queue until it opens."""

    def __init__(self, runner):
        self.runner, self.gate, self.entered = runner, threading.Event(), threading.Event()
        self.classes, self.palette, self.info = runner.classes, runner.palette, runner.info

    def predict(self, images):
        self.entered.set()
        assert self.gate.wait(30)
        return self.runner.predict(images)


def test_a_full_queue_answers_503_with_retry_after(runner):
    gated = _GatedRunner(runner)
    settings = ServeSettings(max_batch=1, max_wait_ms=0, queue_size=1, workers=1)
    image = image_bytes(random_image(32, 32, seed=1))
    with ServerThread(build_app(gated, settings)) as running:
        replies = []
        first = threading.Thread(target=lambda: replies.append(post_image(running.port, image)))
        first.start()
        assert gated.entered.wait(30)  # the worker holds the first request
        second = threading.Thread(target=lambda: replies.append(post_image(running.port, image)))
        second.start()
        deadline = time.monotonic() + 30
        while http_request(running.port, 'GET', '/healthz').json()['queue_depth'] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        busy = post_image(running.port, image)
        assert busy.status == 503 and busy.headers['retry-after'] == '1'
        assert 'the service is busy' in busy.json()['error'] and '--queue-size 1' in \
            busy.json()['error']
        text = http_request(running.port, 'GET', '/metrics').body.decode()
        assert 'fcn_mm_serve_queue_depth 1' in text
        gated.gate.set()
        first.join(30)
        second.join(30)
        assert [r.status for r in replies] == [200, 200]
        assert post_image(running.port, image).status == 200
        text = http_request(running.port, 'GET', '/metrics').body.decode()
        assert 'fcn_mm_serve_requests_total{path="/predict",status="503"} 1' in text
        assert 'fcn_mm_serve_requests_total{path="/predict",status="200"} 3' in text


def test_an_inference_error_is_a_500_for_that_request_only(runner):
    class Failing(_GatedRunner):
        def predict(self, images):
            if images[0].shape[0] == 13:
                raise RuntimeError('model exploded')
            return self.runner.predict(images)
    with ServerThread(build_app(Failing(runner), ServeSettings())) as running:
        bad = post_image(running.port, image_bytes(random_image(13, 20)))
        assert bad.status == 500 and 'model exploded' in bad.json()['error']
        assert post_image(running.port, image_bytes(random_image(32, 32))).status == 200
