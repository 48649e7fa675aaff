"""Turn 8-bit images into the normalised float arrays a vision model expects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Per-channel statistics of ImageNet (RGB), the usual defaults for pretrained models.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalise(
    image: np.ndarray,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> np.ndarray:
    """An HxWxC uint8 image scaled to [0, 1], then standardised per channel, as float32."""
    if image.ndim != 3 or image.shape[-1] != len(mean) or len(mean) != len(std):
        raise ValueError(
            f"expected an HxWx{len(mean)} image and {len(mean)} means and stds, "
            f"got shape {image.shape}"
        )
    scaled = image.astype(np.float32) / 255.0
    return (scaled - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)


def to_chw(image: np.ndarray) -> np.ndarray:
    """HxWxC (OpenCV, PIL) -> CxHxW (PyTorch), contiguous in memory."""
    return np.ascontiguousarray(image.transpose(2, 0, 1))
