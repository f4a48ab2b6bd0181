"""Helpers of the serving tests: a tiny model with varied labels, a server on a free
loopback port in a thread, and a plain HTTP client (the standard library's)."""
import http.client
import io
import json
import os.path as osp
import socket
import threading
import time
import warnings
from typing import Dict, Iterable, NamedTuple, Optional, Union

import numpy as np
import torch
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(REPO, 'tests', 'configs', 'fcn_r18-tiny_32x32.py')


def varied_checkpoint(path: str) -> str:
    """A checkpoint of the tiny config with BN statistics measured on random images, so
    that its random weights give several classes per image (with the default statistics
    the features are almost constant and one class covers every pixel)."""
    from fcn_mm.apis import init_model
    torch.manual_seed(0)
    model = init_model(TINY_CONFIG)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a plain average over the batches below
            module.reset_running_stats()
    model.train()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # forward in training mode, on purpose
        for step in range(4):
            images = [torch.from_numpy(random_image(32, 32, seed=10 + 4 * step + i))
                      .permute(2, 0, 1) for i in range(4)]
            batch = model.data_preprocessor(dict(inputs=images), False)['inputs']
            model(batch, mode='tensor')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=model.dataset_meta)), path)
    return path


def image_bytes(array_bgr: np.ndarray, fmt: str = 'PNG') -> bytes:
    """Encode an (H, W, 3) BGR array (PNG/WebP lossless: decodes to the same array)."""
    buffer = io.BytesIO()
    kwargs = dict(lossless=True) if fmt == 'WEBP' else {}
    Image.fromarray(np.ascontiguousarray(array_bgr[:, :, ::-1])).save(buffer, format=fmt,
                                                                      **kwargs)
    return buffer.getvalue()


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random (H, W, 3) uint8 BGR image (blocks of colour, so labels vary)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (-(-height // 8), -(-width // 8), 3), dtype=np.uint8)
    return np.ascontiguousarray(np.kron(small, np.ones((8, 8, 1), dtype=np.uint8))
                                [:height, :width])


class Reply(NamedTuple):
    status: int
    headers: Dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def http_request(port: int, method: str, path: str,
                 body: Union[bytes, Iterable[bytes], None] = None,
                 headers: Optional[Dict[str, str]] = None, timeout: float = 30) -> Reply:
    """One request to 127.0.0.1:port; an iterable body is sent chunked (no length)."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {},
                     encode_chunked=body is not None and not isinstance(body, bytes))
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                     response.read())
    finally:
        conn.close()


def multipart(fields: Dict[str, tuple], boundary: str = 'fcnmmboundary') -> tuple:
    """(body, content type) of a multipart form: name -> (filename or None, bytes)."""
    parts = []
    for name, (filename, data) in fields.items():
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        parts.append(f'--{boundary}\r\nContent-Disposition: {disposition}\r\n'
                     'Content-Type: application/octet-stream\r\n\r\n'.encode() + data + b'\r\n')
    body = b''.join(parts) + f'--{boundary}--\r\n'.encode()
    return body, f'multipart/form-data; boundary={boundary}'


class ServerThread:
    """uvicorn serving ``app`` on a free loopback port, in a daemon thread."""

    def __init__(self, app):
        import uvicorn
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level='warning'))
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs=dict(sockets=[self.sock]), daemon=True)

    def __enter__(self) -> 'ServerThread':
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError('the server did not start')
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()
