"""Image preprocessing helpers."""

from vision.normalise import IMAGENET_MEAN, IMAGENET_STD, normalise, to_chw

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "normalise", "to_chw"]
