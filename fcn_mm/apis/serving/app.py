"""The ASGI application: ``POST /predict``, ``GET /`` (the page), ``GET /healthz`` and
``GET /metrics``, on Starlette.

The page's files are read into memory when the app is built; no request names a file
(``/static/NAME`` looks ``NAME`` up in that in-memory table), so nothing a client sends
reads or writes the file system.
"""
import asyncio
import base64
import contextlib
import json
import logging
import math
import os.path as osp
import threading
import time
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Tuple

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .batcher import DynamicBatcher, QueueFull
from .decoding import IMAGE_FORMATS, RequestRejected, decode_image
from .metrics import ServiceMetrics
from .responses import class_summary, label_png, overlay_png
from .runner import SegmentationRunner

__all__ = ['ServeSettings', 'build_app', 'BackgroundServer', 'STATIC_FILES']

logger = logging.getLogger(__name__)

STATIC_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'static')
# name -> content type of the page's files (all that GET / and /static/NAME can answer)
STATIC_FILES = {'index.html': 'text/html; charset=utf-8',
                'app.js': 'text/javascript; charset=utf-8',
                'style.css': 'text/css; charset=utf-8'}
RAW_TYPES = set(IMAGE_FORMATS.values()) | {'application/octet-stream'}
MULTIPART = 'multipart/form-data'
FORMATS = {'json': 'application/json', 'png': 'image/png', 'overlay': 'image/png'}


@dataclass
class ServeSettings:
    """Limits and batching of the service (the flags of ``tools/serve.py``).

    Args:
        max_pixels (int): the largest image (width * height) accepted; more is 413.
        max_body_bytes (int): the largest request body; more is 413, unread.
        max_batch (int): the most same-size images in one inference batch.
        max_wait_ms (float): how long a batch waits for more images.
        queue_size (int): the most images waiting; beyond it, 503 with Retry-After.
        workers (int): inference threads.
        opacity (float): the overlay's default opacity.
    """
    max_pixels: int = 16_000_000
    max_body_bytes: int = 20 * 1024 * 1024
    max_batch: int = 8
    max_wait_ms: float = 5.0
    queue_size: int = 64
    workers: int = 1
    opacity: float = 0.5


def _error(status: int, message: str, headers: Optional[dict] = None) -> JSONResponse:
    return JSONResponse(dict(error=message, status=status), status_code=status,
                        headers=headers)


def _metrics_path(path: str) -> str:
    if path in ('/', '/predict', '/healthz', '/metrics'):
        return path
    return '/static' if path.startswith('/static/') else 'other'


class _CountRequests:
    """ASGI middleware: every HTTP answer's status and latency into the metrics."""

    def __init__(self, app, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), [500]

        async def send_status(message):
            if message['type'] == 'http.response.start':
                status[0] = message['status']
            await send(message)
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe_request(_metrics_path(scope['path']), status[0],
                                         time.perf_counter() - start)


def _choose_format(request: Request) -> str:
    fmt = request.query_params.get('format')
    if fmt is not None:
        fmt = 'png' if fmt == 'labels' else fmt
        if fmt not in FORMATS:
            raise RequestRejected(400, f'format={fmt!r} is not one of json, png (the label '
                                       'map), overlay')
        return fmt
    accept = request.headers.get('accept', '').lower()
    if not accept or 'application/json' in accept or '*/*' in accept \
            or 'application/*' in accept:
        return 'json'
    if 'image/png' in accept or 'image/*' in accept:
        return 'png'
    raise RequestRejected(406, f'cannot answer Accept: {accept}; ask for application/json '
                               'or image/png, or pass format=json|png|overlay')


def _opacity(request: Request, default: float) -> float:
    text = request.query_params.get('opacity')
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise RequestRejected(400, f'opacity={text!r}: expected a number in [0, 1]')
    return value


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is over ``limit`` bytes."""
    declared = request.headers.get('content-length')
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise RequestRejected(400, f'Content-Length {declared!r} is not a number') from None
        if declared_size > limit:
            raise RequestRejected(413, f'body of {declared_size} bytes is over the limit of '
                                       f'{limit} bytes (--max-body-bytes)')
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRejected(413, f'body is over the limit of {limit} bytes '
                                       '(--max-body-bytes)')
        chunks.append(chunk)
    return b''.join(chunks)


async def _multipart_file(request: Request, body: bytes, limit: int) -> bytes:
    """The bytes of the form's ``file`` field (else its only file) from a read body."""
    async def replay():
        yield body
    # files stay in memory (the body is capped already): no temporary file is written
    parser = MultiPartParser(request.headers, replay(), max_files=1, max_fields=16,
                             max_part_size=limit)
    parser.spool_max_size = limit + 1
    try:
        form = await parser.parse()
    except Exception as e:  # MultiPartException, or a header without a boundary
        detail = e.message if isinstance(e, MultiPartException) else f'{type(e).__name__}: {e}'
        raise RequestRejected(400, f'malformed multipart body: {detail}') from None
    try:
        files = [v for _, v in form.multi_items() if hasattr(v, 'read')]
        chosen = form.get('file') if hasattr(form.get('file'), 'read') else \
            (files[0] if len(files) == 1 else None)
        if chosen is None:
            raise RequestRejected(400, 'the multipart form has no file: send the image in a '
                                       'field named "file"')
        return await chosen.read()
    finally:
        await form.close()


def build_app(runner: SegmentationRunner, settings: Optional[ServeSettings] = None
              ) -> Starlette:
    """The service around ``runner``; its batcher threads start here.

    Args:
        runner (SegmentationRunner): the model (``predict``, ``classes``, ``palette``,
            ``info``).
        settings (ServeSettings, optional): limits and batching; the defaults if None.

    Returns:
        Starlette: the ASGI app, with ``state.batcher``, ``state.metrics`` and
        ``state.settings``; its shutdown stops the batcher.
    """
    settings = settings or ServeSettings()
    metrics_box: Dict[str, ServiceMetrics] = {}
    batcher = DynamicBatcher(runner.predict, settings.max_batch, settings.max_wait_ms / 1000,
                             settings.queue_size, settings.workers,
                             on_batch=lambda n: metrics_box['m'].observe_batch(n))
    metrics = ServiceMetrics(lambda: batcher.depth, settings.queue_size)
    metrics_box['m'] = metrics
    static: Dict[str, Tuple[bytes, str]] = {}
    for name, media_type in STATIC_FILES.items():
        with open(osp.join(STATIC_DIR, name), 'rb') as f:
            static[name] = (f.read(), media_type)
    # header values are latin-1: other characters of a file name become '?'
    info_headers = {f'X-{k.capitalize()}': str(v).encode('ascii', 'replace').decode()
                    for k, v in runner.info.items()}

    def static_file(name: str) -> Response:
        found = static.get(name)
        if found is None:
            return _error(404, f'no page file {name!r}: the page has {sorted(static)}')
        return Response(found[0], media_type=found[1],
                        headers={'Cache-Control': 'no-cache'})

    async def index(request: Request) -> Response:
        return static_file('index.html')

    async def page_file(request: Request) -> Response:
        return static_file(request.path_params['name'])

    async def healthz(request: Request) -> Response:
        return JSONResponse(dict(status='ok', queue_depth=batcher.depth,
                                 queue_size=settings.queue_size, classes=runner.classes,
                                 **runner.info))

    async def metrics_text(request: Request) -> Response:
        return PlainTextResponse(metrics.render(),
                                 media_type='text/plain; version=0.0.4; charset=utf-8')

    def encode(fmt: str, image, labels, opacity: float, with_labels: bool) -> Response:
        headers = dict(info_headers, **{'X-Image-Size': f'{labels.shape[1]}x{labels.shape[0]}'})
        if fmt == 'png':
            return Response(label_png(labels, runner.palette), media_type='image/png',
                            headers=headers)
        if fmt == 'overlay':
            return Response(overlay_png(image, labels, runner.classes,
                                        runner.palette.tolist(), opacity),
                            media_type='image/png', headers=headers)
        body = dict(runner.info, height=int(labels.shape[0]), width=int(labels.shape[1]),
                    num_classes=len(runner.classes),
                    classes=class_summary(labels, runner.classes, runner.palette))
        if with_labels:
            body['label_png'] = base64.b64encode(label_png(labels, runner.palette)).decode()
        return Response(json.dumps(body), media_type='application/json', headers=headers)

    async def predict(request: Request) -> Response:
        try:
            fmt = _choose_format(request)
            opacity = _opacity(request, settings.opacity)
            with_labels = request.query_params.get('include_labels', '') in ('1', 'true')
            content_type = request.headers.get('content-type', '').split(';')[0]
            content_type = content_type.strip().lower()
            if content_type not in RAW_TYPES and content_type != MULTIPART:
                raise RequestRejected(415, f'Content-Type {content_type or "(none)"!r} is not '
                                           f'accepted: send {", ".join(sorted(RAW_TYPES))} '
                                           f'bytes or {MULTIPART} with a "file" field')
            if batcher.depth >= settings.queue_size:  # shed load before reading the body
                raise RequestRejected(503, f'the service is busy: {batcher.depth} requests '
                                           f'are queued already (--queue-size '
                                           f'{settings.queue_size}); retry later',
                                      {'Retry-After': '1'})
            body = await _read_body(request, settings.max_body_bytes)
            if content_type == MULTIPART:
                body = await _multipart_file(request, body, settings.max_body_bytes)
            image = await run_in_threadpool(decode_image, body, settings.max_pixels)
            try:
                future = batcher.submit(image.shape[:2], image)
            except QueueFull as e:
                raise RequestRejected(503, f'the service is busy: {e}; retry later',
                                      {'Retry-After': '1'}) from None
            try:
                labels = await asyncio.wrap_future(future)
            except Exception as e:
                logger.exception('inference failed')
                raise RequestRejected(500, f'inference failed: {type(e).__name__}: {e}') \
                    from None
            return await run_in_threadpool(encode, fmt, image, labels, opacity, with_labels)
        except RequestRejected as e:
            return _error(e.status, e.message, e.headers)
        except Exception as e:  # any other failure answers this request only
            logger.exception('POST /predict failed')
            return _error(500, f'internal error: {type(e).__name__}: {e}')

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await run_in_threadpool(batcher.stop)

    app = Starlette(routes=[Route('/', index, methods=['GET']),
                            Route('/static/{name}', page_file, methods=['GET']),
                            Route('/healthz', healthz, methods=['GET']),
                            Route('/metrics', metrics_text, methods=['GET']),
                            Route('/predict', predict, methods=['POST'])],
                    lifespan=lifespan)
    app.state.batcher, app.state.metrics, app.state.settings = batcher, metrics, settings
    app.state.runner = runner
    app.add_middleware(_CountRequests, metrics=metrics)
    logger.info('serving %s with %s', runner.info, asdict(settings))
    return app


class BackgroundServer:
    """uvicorn serving an app on a loopback port in a daemon thread (tests, notebooks).

    ``with BackgroundServer(app) as server:`` starts it and waits until it accepts
    connections; ``server.port`` is the port (a free one unless ``port`` is given).

    Args:
        app: the ASGI app (:func:`build_app`).
        host (str): the address to bind. Defaults to ``'127.0.0.1'``.
        port (int): the port; 0 takes a free one.
        log_level (str): uvicorn's log level. Defaults to ``'warning'``.
    """

    def __init__(self, app, host: str = '127.0.0.1', port: int = 0,
                 log_level: str = 'warning'):
        import socket

        import uvicorn
        self.sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET,
                                  socket.SOCK_STREAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
        self._thread = threading.Thread(target=self.server.run,
                                        kwargs=dict(sockets=[self.sock]), daemon=True)

    def __enter__(self) -> 'BackgroundServer':
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError('the server did not start')
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(30)
        self.sock.close()
