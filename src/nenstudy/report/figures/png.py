"""Lossless PNG encoding of a figure raster, faster than the generic encoder for flat figure art.

Pillow's PNG encoder tries every row filter on every row (adaptive filtering), which costs
more than the compression itself on a 300 dpi figure and gains nothing on flat areas of colour:
on the report's figures the unfiltered stream is both faster to write and smaller. The alpha
channel is dropped when the raster is fully opaque (the report's figures have a white
background), which is lossless.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["encode_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_INCHES_PER_METRE = 39.37007874015748


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(rgba: np.ndarray, dpi: float, *, level: int = 6) -> bytes:
    """Encode an 8-bit RGBA raster as PNG bytes (RGB when every pixel is opaque).

    Parameters
    ----------
    rgba : numpy.ndarray
        ``uint8`` array of shape (height, width, 4).
    dpi : float
        Resolution stored in the ``pHYs`` chunk (pixels per inch).
    level : int
        zlib compression level (0-9).

    Returns
    -------
    bytes
        A complete PNG file: 8-bit truecolour, no interlacing, row filter "None".
    """
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"encode_png expects a uint8 (height, width, 4) array, got {rgba.dtype} {rgba.shape}")
    height, width = rgba.shape[:2]
    opaque = bool((rgba[:, :, 3] == 255).all())
    pixels = rgba[:, :, :3] if opaque else rgba
    rows = np.empty((height, 1 + width * pixels.shape[2]), dtype=np.uint8)
    rows[:, 0] = 0  # filter type "None" on every row
    rows[:, 1:] = pixels.reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0)
    per_metre = int(round(dpi * _INCHES_PER_METRE))
    return b"".join([
        _SIGNATURE,
        _chunk(b"IHDR", header),
        _chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
        _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
        _chunk(b"IEND", b""),
    ])
