"""Helpers of the serving tests: a tiny model with varied labels, a server on a free
loopback port in a thread, and a plain HTTP client (the standard library's)."""
import http.client
import io
import json
import os.path as osp
from typing import Dict, Iterable, NamedTuple, Optional, Union

import numpy as np
from PIL import Image

from fcn_mm.apis.serving.load import random_weights_checkpoint, smooth_random_image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join(REPO, 'tests', 'configs', 'fcn_r18-tiny_32x32.py')


def varied_checkpoint(path: str) -> str:
    """A checkpoint of the tiny config whose random weights give several classes per image."""
    return random_weights_checkpoint(TINY_CONFIG, path)


def image_bytes(array_bgr: np.ndarray, fmt: str = 'PNG') -> bytes:
    """Encode an (H, W, 3) BGR array (PNG/WebP lossless: decodes to the same array)."""
    buffer = io.BytesIO()
    kwargs = dict(lossless=True) if fmt == 'WEBP' else {}
    Image.fromarray(np.ascontiguousarray(array_bgr[:, :, ::-1])).save(buffer, format=fmt,
                                                                      **kwargs)
    return buffer.getvalue()


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A random (H, W, 3) uint8 BGR image of colour blocks (so labels vary over it)."""
    return smooth_random_image(height, width, seed)


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


def ServerThread(app):  # noqa: N802  (the library's context manager, as the tests name it)
    """The app on a free loopback port in a thread: ``with ServerThread(app) as s: s.port``."""
    from fcn_mm.apis.serving.app import BackgroundServer
    return BackgroundServer(app)
