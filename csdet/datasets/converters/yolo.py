"""Ultralytics YOLO-txt datasets: data.yaml, image lists and label files.

``data.yaml`` keys read: ``path`` (dataset root; relative to the yaml's
folder when relative, the yaml's folder when absent), ``train``, ``val``,
optional ``test`` (each a folder of images searched recursively, a .txt
list of image paths, or a list of those; relative entries are relative to
the root, relative lines of a list to the list's folder), ``names`` (a list,
or a dict ``{id: name}`` with ids 0..n-1) and optional ``nc``.

Labels are found the Ultralytics way: the last ``/images/`` of the image path
becomes ``/labels/`` and the suffix ``.txt``. Each line is ``class cx cy w h``
with coordinates normalised to [0, 1]; a missing or empty label file makes
the image a negative (no defect).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from .errors import ConversionError, Problem
from .records import IMAGE_SUFFIXES, UNDECODABLE, Box, ImageRecord, read_image

SPLIT_KEYS = ('train', 'val', 'test')
BOX_TOLERANCE = 1e-3  # normalised; box edges beyond [0, 1] by less are clipped
DECIMALS = 3  # COCO pixel coordinates are rounded to 1/1000 px
BBOX_CONVENTION = (
    'YOLO normalised (cx, cy, w, h) -> COCO pixel edges: x = (cx - w/2) * W, '
    'y = (cy - h/2) * H, w = w * W, h = h * H (W x H read from the image; '
    f'edges within {BOX_TOLERANCE:g} outside [0, 1] clipped; rounded to '
    f'{10 ** -DECIMALS:g} px)')
# Written beside YOLO labels by labelling tools (e.g. LabelImg); not a label.
CLASS_LIST_FILE = 'classes.txt'


@dataclass(frozen=True)
class DataYaml:
    """A checked data.yaml: ``splits`` maps train/val[/test] to the entries
    as written (each a folder or .txt list, relative to ``root``)."""
    path: Path
    root: Path
    names: Tuple[str, ...]
    splits: Dict[str, List[str]]


@dataclass(frozen=True)
class YoloBox:
    """One label line: class id and normalised centre/size."""
    class_id: int
    cx: float
    cy: float
    w: float
    h: float
    line: int


# ---------------------------------------------------------------- data.yaml
def _names(value, path: Path, problems: List[Problem]) -> Tuple[str, ...]:
    if isinstance(value, dict):
        try:
            ids = sorted(int(k) for k in value)
        except (TypeError, ValueError):
            problems.append(Problem(path, f'names: dict keys must be class '
                                    f'ids 0..n-1, got {list(value)}'))
            return ()
        if ids != list(range(len(value))):
            problems.append(Problem(path, f'names: ids must be 0..'
                                    f'{len(value) - 1} without gaps, got '
                                    f'{ids}'))
            return ()
        value = [value[k] for k in sorted(value, key=int)]
    if not isinstance(value, list) or not value:
        problems.append(Problem(path, 'names: expected a non-empty list of '
                                'class names or a dict {id: name}'))
        return ()
    names = tuple(str(v).strip() for v in value)
    if '' in names or len(set(names)) != len(names):
        problems.append(Problem(path, f'names must be non-empty and unique, '
                                f'got {list(names)}'))
        return ()
    return names


def _entries(value, key: str, path: Path,
             problems: List[Problem]) -> Optional[List[str]]:
    if value is None or value == '' or value == []:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) and v
                                       for v in value):
        return list(value)
    problems.append(Problem(path, f'{key}: expected a folder, a .txt list '
                            f'of images or a list of them, got {value!r}'))
    return None


def _yaml_problem(path: Path, error: Exception) -> Problem:
    """A one-line Problem for a YAML syntax error, at its line."""
    mark = getattr(error, 'problem_mark', None)
    reason = getattr(error, 'problem', None)
    if mark is None or reason is None:
        return Problem(path, f'not valid YAML: {error}'.replace('\n', ' '))
    context, context_mark = (getattr(error, 'context', None),
                             getattr(error, 'context_mark', None))
    if context and context_mark is not None:
        reason += f' ({context} from line {context_mark.line + 1})'
    return Problem(path, f'not valid YAML: {reason}', mark.line + 1)


def load_data_yaml(path: Path) -> DataYaml:
    """Read and check an Ultralytics data.yaml; raise ConversionError with
    every problem found (file named, and line for YAML syntax errors)."""
    path = Path(path)
    if not path.is_file():
        raise ConversionError([Problem(path, 'data.yaml not found')])
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConversionError([_yaml_problem(path, error)]) from None
    if not isinstance(data, dict):
        raise ConversionError([Problem(path, 'expected a mapping with path, '
                                       f'train, val, names; got {data!r}')])
    problems: List[Problem] = []
    names = _names(data.get('names'), path, problems)
    if 'nc' in data and names and data['nc'] != len(names):
        problems.append(Problem(path, f'nc is {data["nc"]} but names has '
                                f'{len(names)} entries'))
    root_value = data.get('path')
    if root_value is not None and not isinstance(root_value, str):
        problems.append(Problem(path, f'path: expected a folder, got '
                                f'{root_value!r}'))
        root_value = None
    root = path.parent if not root_value else Path(root_value)
    if not root.is_absolute():
        root = path.parent / root
    splits: Dict[str, List[str]] = {}
    for key in SPLIT_KEYS:
        entries = _entries(data.get(key), key, path, problems)
        if entries is not None:
            splits[key] = entries
        elif key != 'test' and not any(p.message.startswith(f'{key}:')
                                       for p in problems):
            problems.append(Problem(path, f'{key}: missing (train and val '
                                    'are required)'))
    if problems:
        raise ConversionError(problems)
    return DataYaml(path, root, names, splits)


# -------------------------------------------------------- images and labels
def label_path_for(image_path: Path) -> Path:
    """Ultralytics rule: last ``/images/`` -> ``/labels/``, suffix -> .txt."""
    images, labels = f'{os.sep}images{os.sep}', f'{os.sep}labels{os.sep}'
    text = labels.join(str(image_path).rsplit(images, 1))
    return Path(text.rsplit('.', 1)[0] + '.txt')


def _read_list(list_path: Path) -> Tuple[List[Path], List[Problem]]:
    images, problems = [], []
    for number, line in enumerate(list_path.read_text().splitlines(), 1):
        entry = line.strip()
        if not entry:
            continue
        image = Path(entry)
        if not image.is_absolute():
            image = list_path.parent / image
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(Problem(list_path, f'{entry!r} is not an image '
                                    f'({", ".join(IMAGE_SUFFIXES)})', number))
        elif not image.is_file():
            problems.append(Problem(list_path, f'image missing: {image}',
                                    number))
        else:
            images.append(image)
    return images, problems


def orphan_labels(folder: Path, images: Sequence[Path]) -> List[Problem]:
    """Label files under the labels folder of image folder ``folder`` whose
    image is not in ``images`` (none when labels sit beside images)."""
    label_root = label_path_for(Path(str(folder) + os.sep + 'x.jpg')).parent
    if label_root == folder or not label_root.is_dir():
        return []
    expected = {label_path_for(image) for image in images}
    return [Problem(path, 'image missing: no image for this label file in '
                    f'{folder}')
            for path in sorted(label_root.rglob('*.txt'))
            if path not in expected and path.name != CLASS_LIST_FILE]


def split_images(data: DataYaml,
                 split: str) -> Tuple[List[Path], List[Problem]]:
    """Image paths of one split, in the order listed (folders sorted); a
    missing entry, a missing listed image or an orphan label is a problem."""
    images: List[Path] = []
    problems: List[Problem] = []
    for entry in data.splits[split]:
        source = Path(entry)
        if not source.is_absolute():
            source = data.root / source
        if source.is_dir():
            found = sorted(p for p in source.rglob('*')
                           if p.is_file() and p.suffix.lower() in
                           IMAGE_SUFFIXES)
            if not found:
                problems.append(Problem(source, f'{split}: no images in this '
                                        'folder'))
            problems += orphan_labels(source, found)
            images += found
        elif source.is_file() and source.suffix.lower() == '.txt':
            found, found_problems = _read_list(source)
            images += found
            problems += found_problems
        else:
            problems.append(Problem(data.path, f'{split}: {source} is not a '
                                    'folder or a .txt list of images'))
    return images, problems


def _number(text: str) -> Optional[float]:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_label_line(fields: Sequence[str],
                     num_classes: int) -> Tuple[Optional[tuple], List[str]]:
    """(class id, cx, cy, w, h) of one split label line, or None with the
    reasons it is refused."""
    if len(fields) > 5:
        return None, [f'segment line ({len(fields)} values): only boxes '
                      '"class cx cy w h" are supported; convert polygons '
                      'to their bounding boxes first']
    if len(fields) < 5:
        return None, [f'{len(fields)} value(s), expected 5: '
                      '"class cx cy w h"']
    errors = []
    class_value = _number(fields[0])
    if class_value is None or not class_value.is_integer():
        errors.append(f'class id {fields[0]!r} is not an integer')
    elif not 0 <= class_value < num_classes:
        errors.append(f'class id {int(class_value)} out of range: names has '
                      f'{num_classes} classes (ids 0..{num_classes - 1})')
    coords = []
    for name, text in zip(('cx', 'cy', 'w', 'h'), fields[1:]):
        value = _number(text)
        if value is None:
            errors.append(f'{name} {text!r} is not a number')
        coords.append(value)
    if errors:
        return None, errors
    cx, cy, w, h = coords
    if w <= 0 or h <= 0:
        return None, [f'box has no area (w {w:g}, h {h:g})']
    edges = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    if (min(edges) < -BOX_TOLERANCE or max(edges) > 1 + BOX_TOLERANCE):
        return None, [
            'box reaches outside the image: edges x {:.4g}..{:.4g}, y '
            '{:.4g}..{:.4g}; normalised coordinates must be within [0, 1]'
            .format(edges[0], edges[2], edges[1], edges[3])]
    return (int(class_value), cx, cy, w, h), []


def read_labels(label_path: Path,
                num_classes: int) -> Tuple[List[YoloBox], List[Problem]]:
    """Boxes of a label file (none when it is missing or empty) and one
    problem per bad line (file and line named)."""
    if not label_path.is_file():
        return [], []
    try:
        text = label_path.read_text()
    except UnicodeDecodeError:
        return [], [Problem(label_path, 'not a text label file')]
    boxes, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        parsed, errors = parse_label_line(fields, num_classes)
        if errors:
            problems.append(Problem(label_path, '; '.join(errors), number))
        else:
            boxes.append(YoloBox(*parsed, line=number))
    return boxes, problems


def yolo_box_to_coco(box: YoloBox, width: int,
                     height: int) -> Tuple[float, float, float, float]:
    """Normalised centre/size -> COCO pixel ``[x, y, w, h]`` (edges clipped
    to the image, rounded to DECIMALS)."""
    x1 = min(max(box.cx - box.w / 2, 0.0), 1.0) * width
    y1 = min(max(box.cy - box.h / 2, 0.0), 1.0) * height
    x2 = min(max(box.cx + box.w / 2, 0.0), 1.0) * width
    y2 = min(max(box.cy + box.h / 2, 0.0), 1.0) * height
    return tuple(round(v, DECIMALS) for v in (x1, y1, x2 - x1, y2 - y1))


def read_image_record(image_path: Path, names: Sequence[str]
                      ) -> Tuple[Optional[ImageRecord], List[Problem]]:
    """Decode an image and read its labels; (record or None, problems)."""
    size, digest = read_image(image_path)
    label_path = label_path_for(image_path)
    boxes, problems = read_labels(label_path, len(names))
    if size is None:
        problems.insert(0, Problem(image_path, UNDECODABLE))
    if problems:
        return None, problems
    width, height = size
    return ImageRecord(
        image_path.stem, image_path, width, height,
        [Box(names[b.class_id], yolo_box_to_coco(b, width, height))
         for b in boxes],
        source=label_path if label_path.is_file() else None,
        digest=digest), []
