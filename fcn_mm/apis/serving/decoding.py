"""Request bytes -> an image array, refusing anything that is not a whole, small enough
JPEG, PNG or WebP image before its pixels are decoded."""
import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ['RequestRejected', 'decode_image', 'IMAGE_FORMATS']

# Pillow format name -> the content type that names it
IMAGE_FORMATS = {'JPEG': 'image/jpeg', 'PNG': 'image/png', 'WEBP': 'image/webp'}


class RequestRejected(Exception):
    """A request the service refuses: an HTTP status (4xx/5xx) and a message for the client.

    Args:
        status (int): the HTTP status code.
        message (str): what was wrong and what is expected.
        headers (dict, optional): extra response headers (e.g. ``Retry-After``).
    """

    def __init__(self, status: int, message: str, headers: dict = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode a JPEG, PNG or WebP image, checking its size from the header first.

    Pillow reads the width and height without decoding the pixels; an image of more
    than ``max_pixels`` pixels is refused before any pixel memory is allocated (a
    decompression bomb stays a few bytes). Palette, grey and alpha images become RGB
    (alpha dropped); an animated file gives its first frame.

    Args:
        data (bytes): the file's bytes.
        max_pixels (int): the largest width * height accepted.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR, what ``inference_model`` takes.

    Raises:
        RequestRejected: 400 (empty, not an image, truncated or corrupt), 413 (over
            ``max_pixels``), 415 (an image format other than JPEG/PNG/WebP).
    """
    if not data:
        raise RequestRejected(400, 'empty body: send the bytes of a JPEG, PNG or WebP image')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        # Pillow's own guard (twice Image.MAX_IMAGE_PIXELS) came first
        raise RequestRejected(413, f'image is over the limit of {max_pixels} pixels '
                                   f'(--max-pixels): {e}') from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise RequestRejected(400, f'the body ({len(data)} bytes) is not a JPEG, PNG or '
                                   'WebP image (or its header is cut short)') from None
    with image:
        if image.format not in IMAGE_FORMATS:
            raise RequestRejected(415, f'unsupported image format {image.format}: send '
                                       'JPEG, PNG or WebP')
        width, height = image.size
        if width * height > max_pixels:
            raise RequestRejected(413, f'image of {width}x{height} = {width * height} pixels '
                                       f'is over the limit of {max_pixels} pixels '
                                       '(--max-pixels)')
        if width == 0 or height == 0:
            raise RequestRejected(400, f'image of {width}x{height} pixels has no pixels')
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', Image.DecompressionBombWarning)
                image.load()
                rgb = image.convert('RGB')
        except (OSError, ValueError, SyntaxError, EOFError) as e:
            raise RequestRejected(400, f'truncated or corrupt {image.format} image '
                                       f'({len(data)} bytes): {e}') from None
    array = np.asarray(rgb, dtype=np.uint8)
    return np.ascontiguousarray(array[:, :, ::-1])
