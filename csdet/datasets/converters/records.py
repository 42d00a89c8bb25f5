"""Format-independent image records that every converter fills in."""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

from .errors import Problem

# Image types OpenCV decodes; anything else is not looked at.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
NEGATIVE = '(no objects)'  # summary row / stratum of images without boxes


@dataclass(frozen=True)
class Box:
    """One ground-truth box: class name and COCO ``[x, y, w, h]`` in pixel
    edges (0-based); ``extra`` holds per-annotation fields kept from the
    source format (e.g. VOC ``difficult``, ``truncated``)."""
    label: str
    bbox: Tuple[float, float, float, float]
    extra: Mapping[str, int] = field(default_factory=dict)


@dataclass
class ImageRecord:
    """A validated image with its boxes, ready for splitting and COCO.

    ``stratum`` is what a stratified split balances (a file class, or the
    majority class); ``digest`` is the sha256 of the image bytes.
    """
    stem: str
    image_path: Path
    width: int
    height: int
    boxes: List[Box]
    source: Optional[Path] = None  # annotation file, None when there is none
    stratum: Optional[str] = None
    digest: str = ''
    image_id: int = 0  # set by number_records()
    first_annotation_id: int = 0


def natural_key(stem: str) -> Tuple:
    """Sort key that puts crazing_2 before crazing_10."""
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r'(\d+)', stem))


def decode_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) of an encoded image, None when it does not decode."""
    if not data:
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    return image.shape[1], image.shape[0]


UNDECODABLE = ('image cannot be decoded (empty, truncated or not an image '
               'file): replace or remove it')


def read_image(path: Path) -> Tuple[Optional[Tuple[int, int]], str]:
    """Decode ``path``: ((width, height) or None if undecodable, sha256)."""
    data = Path(path).read_bytes()
    return decode_size(data), hashlib.sha256(data).hexdigest()


def number_records(records: Sequence[ImageRecord]) -> None:
    """1-based image ids and annotation ids in the given order, so they are
    unique across all split files."""
    next_annotation_id = 1
    for image_id, record in enumerate(records, start=1):
        record.image_id = image_id
        record.first_annotation_id = next_annotation_id
        next_annotation_id += len(record.boxes)


def majority_class(boxes: Sequence[Box],
                   classes: Sequence[str]) -> Optional[str]:
    """The most frequent label (ties: earliest in ``classes``); None when
    there is no box."""
    if not boxes:
        return None
    counts = Counter(box.label for box in boxes)
    rank = {name: index for index, name in enumerate(classes)}
    return min(counts, key=lambda name: (-counts[name],
                                         rank.get(name, len(rank)), name))


def check_unique_names(records: Sequence[ImageRecord]) -> List[Problem]:
    """Problems for records sharing a stem or file name (OUT/images/ is flat
    and the split lists hold stems, so both must be unique)."""
    problems = []
    seen: Dict[str, ImageRecord] = {}
    for record in records:
        for key in dict.fromkeys((record.image_path.name, record.stem)):
            other = seen.get(key)
            if other is not None and other is not record:
                problems.append(Problem(
                    record.image_path, f'name {key!r} is also used by '
                    f'{other.image_path}; image names (and stems) must be '
                    'unique: rename one'))
                break
            seen[key] = record
    return problems
