"""Convert NEU-DET (Pascal VOC XML) to COCO JSON with a stratified split.

Usage::

    python tools/dataset_converters/neu_det.py \
        --src ../shared/datasets/NEU-DET --out data/NEU-DET \
        [--seed 0] [--fix-boxes] [--test-per-class 50]

Input layouts (detected automatically):

* original release: ``<src>/IMAGES/*.jpg`` + ``<src>/ANNOTATIONS/*.xml``;
* common redistribution: ``<src>/{train,validation}/images/<class>/*.jpg`` +
  ``<src>/{train,validation}/annotations/*.xml``. Its own train/validation
  split is ignored: all parts are pooled and split again here.

Output (``--out``)::

    annotations/train.json, annotations/test.json   COCO detection JSON
    images/<name>.jpg                                symlinks to the sources
    splits/train.txt, splits/test.txt                image stems, one a line
    conversion.json                                  options, counts, warnings

Conventions:

* The label of a box is its object ``<name>``, never the file name (188 NEU-DET
  boxes carry a class other than their file's).
* Boxes: VOC stores 1-based, inclusive pixel indices; COCO wants 0-based pixel
  edges. ``x = xmin - 1``, ``y = ymin - 1``, ``w = xmax - xmin + 1``,
  ``h = ymax - ymin + 1``, so a box covering pixels 1..200 of a 200-px image
  becomes ``[0, 0, 200, 200]``. A box is outside the image when
  ``xmin < 1``, ``ymin < 1``, ``xmax > width`` or ``ymax > height``, and
  degenerate when ``xmax < xmin`` or ``ymax < ymin`` (no pixel covered).
* ``difficult`` and ``truncated`` are kept as per-annotation fields;
  ``iscrowd`` is always 0 (every box is trained on and evaluated).
* Image size comes from the decoded image; a different XML ``<size>`` is
  reported as a warning.
* Split: ``--test-per-class`` images of each *file* class (the ``<class>`` of
  ``<class>_<n>.jpg``) go to test, the rest to train (NEU-DET: 250/50 per
  class, 1,500/300 in total). Byte-identical images are grouped first, so
  copies always share a split. The split depends only on ``--seed`` and the
  file names, not on the order the file system lists them in.

Nothing is written unless the whole input is valid: every problem is
collected and reported together, then the output is built in a temporary
folder beside ``--out`` and renamed into place.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

# Class order used everywhere in csdet (== NEUDETDataset.METAINFO['classes']).
NEU_DET_CLASSES = ('crazing', 'inclusion', 'patches', 'pitted_surface',
                   'rolled-in_scale', 'scratches')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')
MANIFEST_NAME = 'conversion.json'
BBOX_CONVENTION = ('VOC 1-based inclusive -> COCO 0-based edges: '
                   'x = xmin - 1, y = ymin - 1, w = xmax - xmin + 1, '
                   'h = ymax - ymin + 1')


# --------------------------------------------------------------------------
# Data records and errors
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input (or a warning), tied to a file."""
    path: Path
    message: str

    def __str__(self) -> str:
        return f'{self.path}: {self.message}'


class ConversionError(RuntimeError):
    """The input is invalid; ``problems`` lists everything found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        lines = '\n'.join(f'  - {problem}' for problem in self.problems)
        super().__init__(f'{len(self.problems)} problem(s) found, nothing was '
                         f'written:\n{lines}')


class VocParseError(ValueError):
    """An XML file is unreadable or misses a required field."""


@dataclass(frozen=True)
class VocObject:
    """One ``<object>`` of a VOC file, coordinates as written (1-based)."""
    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: int = 0
    truncated: int = 0


@dataclass(frozen=True)
class VocAnnotation:
    """Parsed VOC XML: ``<size>`` (None when absent) and the objects."""
    filename: Optional[str]
    width: Optional[int]
    height: Optional[int]
    objects: Tuple[VocObject, ...]


@dataclass
class Sample:
    """A validated image with its boxes, ready for splitting and COCO."""
    stem: str
    image_path: Path
    xml_path: Path
    file_class: str  # stratum of the split, from the file name / folder
    width: int
    height: int
    digest: str  # sha256 of the image bytes (groups byte-identical copies)
    objects: List[VocObject]
    image_id: int = 0  # set by number_samples()
    first_annotation_id: int = 0


@dataclass
class CollectResult:
    samples: List[Sample]
    warnings: List[Problem] = field(default_factory=list)
    layout: str = ''


# --------------------------------------------------------------------------
# Parsing and box checks
# --------------------------------------------------------------------------
def _required_text(element: ET.Element, tag: str, where: str) -> str:
    text = element.findtext(tag)
    if text is None or not text.strip():
        raise VocParseError(f'{where} has no <{tag}>')
    return text.strip()


def _parse_number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise VocParseError(f'{what} is not a number: {text!r}') from None
    if not np.isfinite(value):
        raise VocParseError(f'{what} is not finite: {text!r}')
    return value


def _parse_flag(element: ET.Element, tag: str, where: str) -> int:
    text = element.findtext(tag)
    if text is None or not text.strip():
        return 0
    try:
        return int(float(text.strip()))
    except ValueError:
        raise VocParseError(
            f'{where} <{tag}> is not 0/1: {text.strip()!r}') from None


def parse_voc_xml(xml_path: Path) -> VocAnnotation:
    """Read one Pascal VOC file; raise VocParseError saying what is wrong."""
    try:
        root = ET.parse(str(xml_path)).getroot()
    except ET.ParseError as error:
        raise VocParseError(f'unparsable XML ({error})') from None
    if root.tag != 'annotation':
        raise VocParseError(
            f'root element is <{root.tag}>, expected <annotation>')
    width = height = None
    size = root.find('size')
    if size is not None and size.findtext('width') and size.findtext(
            'height'):
        width = int(_parse_number(size.findtext('width'), '<size><width>'))
        height = int(_parse_number(size.findtext('height'),
                                   '<size><height>'))
    objects = []
    for index, element in enumerate(root.findall('object'), start=1):
        where = f'<object> #{index}'
        name = _required_text(element, 'name', where)
        box = element.find('bndbox')
        if box is None:
            raise VocParseError(f'{where} ({name}) has no <bndbox>')
        coords = [
            _parse_number(_required_text(box, tag, f'{where} <bndbox>'),
                          f'{where} <{tag}>')
            for tag in ('xmin', 'ymin', 'xmax', 'ymax')
        ]
        objects.append(
            VocObject(name, *coords,
                      difficult=_parse_flag(element, 'difficult', where),
                      truncated=_parse_flag(element, 'truncated', where)))
    filename = root.findtext('filename')
    return VocAnnotation(filename.strip() if filename else None, width,
                         height, tuple(objects))


def voc_box_to_coco(xmin: float, ymin: float, xmax: float,
                    ymax: float) -> List[float]:
    """1-based inclusive VOC corners -> 0-based COCO ``[x, y, w, h]``."""
    return [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]


def is_degenerate(obj: VocObject) -> bool:
    """True when the box covers no pixel (xmax < xmin or ymax < ymin)."""
    return obj.xmax < obj.xmin or obj.ymax < obj.ymin


def is_outside(obj: VocObject, width: int, height: int) -> bool:
    """True when any corner lies outside pixels 1..width / 1..height."""
    return (obj.xmin < 1 or obj.ymin < 1 or obj.xmax > width
            or obj.ymax > height)


def clip_box(obj: VocObject, width: int, height: int) -> VocObject:
    """Clip a VOC box to pixels 1..width / 1..height.

    A box lying wholly outside the image comes out degenerate (e.g. xmin 250,
    xmax 260 in a 200-px image -> xmin 250, xmax 200), so callers drop it.
    """
    return replace(obj, xmin=max(obj.xmin, 1), ymin=max(obj.ymin, 1),
                   xmax=min(obj.xmax, width), ymax=min(obj.ymax, height))


def _describe(obj: VocObject) -> str:
    coords = ', '.join(
        f'{v:g}' for v in (obj.xmin, obj.ymin, obj.xmax, obj.ymax))
    return f'{obj.name} [{coords}]'


def check_boxes(
        objects: Sequence[VocObject], width: int, height: int,
        fix_boxes: bool) -> Tuple[List[VocObject], List[str], List[str]]:
    """Validate (or, with ``fix_boxes``, clip) boxes against the image size.

    Returns (kept objects, error messages, warning messages). Without
    ``fix_boxes`` every outside or degenerate box is an error; with it boxes
    are clipped and those left degenerate are dropped with a warning.
    """
    kept, errors, notes = [], [], []
    for index, obj in enumerate(objects, start=1):
        outside, degenerate = is_outside(obj, width, height), is_degenerate(
            obj)
        if not (outside or degenerate):
            kept.append(obj)
            continue
        what = ('degenerate (xmax < xmin or ymax < ymin)'
                if degenerate else f'outside the {width}x{height} image')
        if not fix_boxes:
            errors.append(f'box #{index} {_describe(obj)} is {what} '
                          '(use --fix-boxes to clip and drop)')
            continue
        clipped = clip_box(obj, width, height)
        if is_degenerate(clipped) or is_degenerate(obj):
            notes.append(f'dropped box #{index} {_describe(obj)}: {what}, '
                         'degenerate after clipping')
        else:
            notes.append(f'clipped box #{index} {_describe(obj)} to '
                         f'{_describe(clipped)}')
            kept.append(clipped)
    return kept, errors, notes


# --------------------------------------------------------------------------
# Finding and validating the input
# --------------------------------------------------------------------------
def _child_dir(parent: Path, name: str) -> Optional[Path]:
    """Sub-folder of ``parent`` named ``name``, case-insensitively."""
    if not parent.is_dir():
        return None
    for child in sorted(parent.iterdir()):
        if child.is_dir() and child.name.lower() == name.lower():
            return child
    return None


def find_source_parts(src: Path) -> Tuple[str, List[Tuple[Path, Path]]]:
    """Detect the layout; return it and its (images_dir, xml_dir) pairs."""
    src = Path(src)
    if not src.is_dir():
        raise ConversionError([Problem(src, 'source folder not found')])
    images, annotations = _child_dir(src, 'images'), _child_dir(
        src, 'annotations')
    if images and annotations:
        return 'original', [(images, annotations)]
    parts = []
    for child in sorted(p for p in src.iterdir() if p.is_dir()):
        images, annotations = _child_dir(child, 'images'), _child_dir(
            child, 'annotations')
        if images and annotations:
            parts.append((images, annotations))
    if parts:
        return 'redistributed', parts
    raise ConversionError([
        Problem(
            src, 'unknown layout: expected IMAGES/ + ANNOTATIONS/ (original '
            'release) or <part>/images/ + <part>/annotations/ (e.g. '
            'train/, validation/)')
    ])


def _index_files(folders: Iterable[Path], suffixes: Sequence[str],
                 what: str) -> Tuple[Dict[str, Path], List[Problem]]:
    """Map file stem -> path under ``folders`` (recursive); flag duplicates."""
    found: Dict[str, Path] = {}
    problems = []
    for folder in folders:
        for path in sorted(folder.rglob('*')):
            if not (path.is_file() and path.suffix.lower() in suffixes):
                continue
            if path.stem in found:
                problems.append(
                    Problem(path, f'two {what} files named {path.stem!r} '
                            f'(also {found[path.stem]}); names must be '
                            'unique'))
                continue
            found[path.stem] = path
    return found, problems


def natural_key(stem: str) -> Tuple:
    """Sort key that puts crazing_2 before crazing_10."""
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r'(\d+)', stem))


def file_class_of(stem: str, image_path: Path,
                  classes: Sequence[str]) -> Optional[str]:
    """Stratum of an image: ``<class>`` of ``<class>_<n>``, else its folder."""
    prefix = stem.rsplit('_', 1)[0] if '_' in stem else stem
    if prefix in classes:
        return prefix
    if image_path.parent.name in classes:
        return image_path.parent.name
    return None


def _decode_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) of an encoded image, None when it does not decode."""
    if not data:
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    return image.shape[1], image.shape[0]


def _validate_pair(stem: str, image_path: Path, xml_path: Path,
                   classes: Sequence[str], fix_boxes: bool,
                   problems: List[Problem],
                   warnings: List[Problem]) -> Optional[Sample]:
    """Check one image + XML pair; append problems, return a Sample if ok."""
    count_before = len(problems)
    try:
        annotation = parse_voc_xml(xml_path)
    except VocParseError as error:
        problems.append(Problem(xml_path, str(error)))
        annotation = None
    data = image_path.read_bytes()
    size = _decode_size(data)
    if size is None:
        problems.append(Problem(image_path, 'image cannot be decoded '
                                '(empty, truncated or not an image file)'))
    file_class = file_class_of(stem, image_path, classes)
    if file_class is None:
        problems.append(
            Problem(image_path, 'cannot tell the file class for the '
                    'stratified split: name is not <class>_<n> and the '
                    f'folder is not a class (classes: {", ".join(classes)})'))
    if annotation is None:
        return None
    if not annotation.objects:
        problems.append(Problem(xml_path, 'empty annotation: no <object>'))
    unknown = sorted({o.name for o in annotation.objects} - set(classes))
    if unknown:
        problems.append(
            Problem(xml_path, f'unknown class name(s) {unknown}; known: '
                    f'{list(classes)} (pass --classes to change the list)'))
    if size is None:
        return None
    width, height = size
    if annotation.width is not None and (annotation.width,
                                         annotation.height) != size:
        warnings.append(
            Problem(xml_path, f'<size> says {annotation.width}x'
                    f'{annotation.height} but the image decodes as '
                    f'{width}x{height}; using the decoded size'))
    objects, box_errors, box_notes = check_boxes(annotation.objects, width,
                                                 height, fix_boxes)
    problems.extend(Problem(xml_path, message) for message in box_errors)
    warnings.extend(Problem(xml_path, message) for message in box_notes)
    if annotation.objects and not objects and not box_errors:
        problems.append(Problem(xml_path, 'empty annotation: --fix-boxes '
                                'dropped every box'))
    if len(problems) > count_before:
        return None
    return Sample(stem, image_path, xml_path, file_class, width, height,
                  hashlib.sha256(data).hexdigest(), objects)


def number_samples(samples: List[Sample]) -> None:
    """Give 1-based image ids and annotation ids in natural-name order."""
    next_annotation_id = 1
    for image_id, sample in enumerate(samples, start=1):
        sample.image_id = image_id
        sample.first_annotation_id = next_annotation_id
        next_annotation_id += len(sample.objects)


def collect_samples(src: Path,
                    classes: Sequence[str] = NEU_DET_CLASSES,
                    fix_boxes: bool = False,
                    progress: bool = True) -> CollectResult:
    """Find, read and validate every image/XML pair under ``src``.

    Raises ConversionError listing ALL problems; otherwise returns the
    samples (natural name order, numbered) and the warnings.
    """
    layout, parts = find_source_parts(Path(src))
    images, problems = _index_files([p[0] for p in parts], IMAGE_SUFFIXES,
                                    'image')
    xmls, xml_problems = _index_files([p[1] for p in parts], ('.xml', ),
                                      'annotation')
    problems += xml_problems
    image_dirs = ', '.join(str(p[0]) for p in parts)
    for stem in sorted(set(xmls) - set(images), key=natural_key):
        problems.append(Problem(xmls[stem], f'image missing: no {stem}.jpg '
                                f'(or other image type) in {image_dirs}'))
    for stem in sorted(set(images) - set(xmls), key=natural_key):
        problems.append(Problem(images[stem], 'no annotation file '
                                f'{stem}.xml for this image'))
    if not xmls:
        problems.append(Problem(Path(src), 'no annotation (.xml) files found'))
    warnings: List[Problem] = []
    samples = []
    stems = sorted(set(xmls) & set(images), key=natural_key)
    for stem in tqdm(stems, desc='Reading NEU-DET', unit='img',
                     disable=not progress):
        sample = _validate_pair(stem, images[stem], xmls[stem], classes,
                                fix_boxes, problems, warnings)
        if sample is not None:
            samples.append(sample)
    if problems:
        raise ConversionError(problems)
    number_samples(samples)
    return CollectResult(samples, warnings, layout)


# --------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------
def group_duplicates(samples: Sequence[Sample]) -> List[List[Sample]]:
    """Groups of byte-identical images (singletons included), name order."""
    by_digest: Dict[str, List[Sample]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: natural_key(s.stem)):
        by_digest[sample.digest].append(sample)
    return sorted(by_digest.values(), key=lambda g: natural_key(g[0].stem))


def split_samples(samples: Sequence[Sample],
                  test_per_class: int = 50,
                  seed: int = 0,
                  classes: Sequence[str] = NEU_DET_CLASSES
                  ) -> Tuple[List[Sample], List[Sample]]:
    """Stratified train/test split: ``test_per_class`` images per file class.

    Byte-identical images are grouped and placed together (the group's
    stratum is that of its first name). Each stratum shuffles its groups with
    its own RNG seeded by (seed, class), so the result depends only on the
    seed and the names. Groups that would overshoot the quota are skipped,
    so every stratum gets exactly ``test_per_class`` test images; raises
    ValueError when that is impossible.
    """
    if test_per_class < 0:
        raise ValueError(f'test_per_class must be >= 0, got {test_per_class}')
    strata: Dict[str, List[List[Sample]]] = defaultdict(list)
    for group in group_duplicates(samples):
        strata[group[0].file_class].append(group)
    order = [c for c in classes if c in strata] + sorted(
        set(strata) - set(classes))
    train, test = [], []
    for stratum in order:
        groups = strata[stratum]
        random.Random(f'neu-det-split:{seed}:{stratum}').shuffle(groups)
        taken = 0
        for group in groups:
            if taken + len(group) <= test_per_class:
                test.extend(group)
                taken += len(group)
            else:
                train.extend(group)
        if taken != test_per_class:
            total = sum(len(g) for g in groups)
            raise ValueError(
                f'class {stratum!r}: cannot put {test_per_class} images in '
                f'the test split (it has {total} images in duplicate groups '
                f'of sizes {sorted(len(g) for g in groups)}); lower '
                '--test-per-class')
    by_name = lambda s: natural_key(s.stem)  # noqa: E731
    return sorted(train, key=by_name), sorted(test, key=by_name)


# --------------------------------------------------------------------------
# COCO output
# --------------------------------------------------------------------------
def _plain(value: float) -> float:
    """Integral floats as ints, so the JSON reads like the source."""
    return int(value) if float(value).is_integer() else float(value)


def to_coco(samples: Sequence[Sample],
            classes: Sequence[str] = NEU_DET_CLASSES,
            info: Optional[dict] = None) -> dict:
    """COCO detection dict; category ids are 1-based in ``classes`` order.

    Image and annotation ids come from number_samples(), so they are unique
    across the train and test files.
    """
    category_id = {name: index for index, name in enumerate(classes, 1)}
    images, annotations = [], []
    for sample in samples:
        images.append(dict(id=sample.image_id,
                           file_name=sample.image_path.name,
                           width=sample.width, height=sample.height))
        for offset, obj in enumerate(sample.objects):
            bbox = [_plain(v) for v in voc_box_to_coco(
                obj.xmin, obj.ymin, obj.xmax, obj.ymax)]
            annotations.append(dict(
                id=sample.first_annotation_id + offset,
                image_id=sample.image_id,
                category_id=category_id[obj.name],
                bbox=bbox,
                area=_plain(bbox[2] * bbox[3]),
                iscrowd=0,
                difficult=obj.difficult,
                truncated=obj.truncated))
    categories = [dict(id=i, name=name, supercategory='defect')
                  for name, i in category_id.items()]
    return dict(info=dict(info or {}), licenses=[], images=images,
                annotations=annotations, categories=categories)


def summarize(train: Sequence[Sample], test: Sequence[Sample],
              classes: Sequence[str]) -> List[dict]:
    """Per-class rows: images (by file class), boxes (by label), per split."""
    rows = []
    counts = {}
    for split, samples in (('train', train), ('test', test)):
        counts[split] = (Counter(s.file_class for s in samples),
                         Counter(o.name for s in samples for o in s.objects))
    for name in list(classes) + ['total']:
        row = dict(cls=name)
        for split in ('train', 'test'):
            images, boxes = counts[split]
            row[f'{split}_images'] = (sum(images.values()) if name == 'total'
                                      else images[name])
            row[f'{split}_boxes'] = (sum(boxes.values()) if name == 'total'
                                     else boxes[name])
        rows.append(row)
    return rows


def print_summary(rows: Sequence[dict], file=None) -> None:
    """Summary table (rich when it can render, plain text otherwise)."""
    headers = ('class', 'train images', 'train boxes', 'test images',
               'test boxes')
    keys = ('cls', 'train_images', 'train_boxes', 'test_images', 'test_boxes')
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text fallback
        print('  '.join(f'{h:>16}' for h in headers), file=file)
        for row in rows:
            print('  '.join(f'{row[k]!s:>16}' for k in keys), file=file)
        return
    table = Table(title='NEU-DET split (images by file class, boxes by label)')
    for header in headers:
        table.add_column(header, justify='left' if header == 'class' else
                         'right')
    for row in rows:
        table.add_row(*(str(row[k]) for k in keys),
                      end_section=row['cls'] == rows[-2]['cls'])
    Console(file=file).print(table)


# --------------------------------------------------------------------------
# Atomic writing
# --------------------------------------------------------------------------
def check_output_dir(out: Path) -> None:
    """Refuse to replace a non-empty folder this converter did not write."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConversionError([Problem(out, 'output exists and is not a '
                                       'folder; choose another --out')])
    if out.is_dir() and any(out.iterdir()) and not (out /
                                                    MANIFEST_NAME).is_file():
        raise ConversionError([
            Problem(out, f'output folder is not empty and has no '
                    f'{MANIFEST_NAME} (not written by this converter); '
                    'remove it or choose another --out')
        ])


def _dump_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + '\n')


def write_dataset(out: Path, train: Sequence[Sample], test: Sequence[Sample],
                  classes: Sequence[str], manifest: dict) -> None:
    """Write the dataset to a temp folder beside ``out``, then rename it.

    An existing converter output at ``out`` is replaced only once the new one
    is complete; on any failure the temp folder is removed and ``out`` is
    left as it was.
    """
    out = Path(os.path.abspath(out))
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f'.{out.name}.tmp-',
                                    dir=out.parent))
    os.chmod(staging, 0o755)  # mkdtemp makes it private (0700)
    backup = None
    try:
        for split, samples in (('train', train), ('test', test)):
            info = dict(description=f'NEU-DET {split} split (csdet '
                        'tools/dataset_converters/neu_det.py)',
                        split=split, seed=manifest['seed'],
                        bbox_convention=BBOX_CONVENTION)
            _dump_json(staging / 'annotations' / f'{split}.json',
                       to_coco(samples, classes, info))
            (staging / 'splits').mkdir(exist_ok=True)
            (staging / 'splits' / f'{split}.txt').write_text(
                ''.join(f'{s.stem}\n' for s in samples))
        (staging / 'images').mkdir()
        for sample in list(train) + list(test):
            os.symlink(os.path.abspath(sample.image_path),
                       staging / 'images' / sample.image_path.name)
        _dump_json(staging / MANIFEST_NAME, manifest)
        if out.exists():
            backup = Path(tempfile.mkdtemp(prefix=f'.{out.name}.old-',
                                           dir=out.parent))
            os.rename(out, backup / 'previous')
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if backup is not None and not out.exists():
            os.rename(backup / 'previous', out)
        raise
    finally:
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------
def convert(src: Path,
            out: Path,
            seed: int = 0,
            test_per_class: int = 50,
            fix_boxes: bool = False,
            classes: Sequence[str] = NEU_DET_CLASSES,
            progress: bool = True) -> dict:
    """Validate ``src``, split it and write ``out``; return the manifest.

    Raises ConversionError (nothing written) when the input is invalid.
    """
    classes = tuple(classes)
    if len(set(classes)) != len(classes) or not classes:
        raise ConversionError([Problem(Path(src), f'--classes must be '
                                       f'unique and non-empty: {classes}')])
    check_output_dir(Path(out))
    result = collect_samples(Path(src), classes, fix_boxes, progress)
    try:
        train, test = split_samples(result.samples, test_per_class, seed,
                                    classes)
    except ValueError as error:
        raise ConversionError([Problem(Path(src), str(error))]) from None
    duplicates = [[s.stem for s in group]
                  for group in group_duplicates(result.samples)
                  if len(group) > 1]
    rows = summarize(train, test, classes)
    manifest = dict(
        converter='tools/dataset_converters/neu_det.py',
        src=os.path.abspath(src), layout=result.layout, seed=seed,
        test_per_class=test_per_class, fix_boxes=fix_boxes,
        classes=list(classes), bbox_convention=BBOX_CONVENTION,
        num_images=dict(train=len(train), test=len(test)),
        num_boxes=dict(train=rows[-1]['train_boxes'],
                       test=rows[-1]['test_boxes']),
        byte_identical_groups=duplicates,
        warnings=[str(w) for w in result.warnings], summary=rows)
    write_dataset(Path(out), train, test, classes, manifest)
    return manifest


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert NEU-DET (Pascal VOC) to COCO JSON with a '
        'stratified train/test split.')
    parser.add_argument('--src', required=True, type=Path,
                        help='NEU-DET folder (IMAGES/ + ANNOTATIONS/, or '
                        'train|validation/images|annotations/)')
    parser.add_argument('--out', default=Path('data/NEU-DET'), type=Path,
                        help='output folder (default: data/NEU-DET)')
    parser.add_argument('--seed', type=int, default=0,
                        help='split seed (default: 0)')
    parser.add_argument('--test-per-class', type=int, default=50,
                        help='test images per file class (default: 50)')
    parser.add_argument('--fix-boxes', action='store_true',
                        help='clip boxes to the image and drop those left '
                        'degenerate, instead of failing')
    parser.add_argument('--classes', nargs='+', default=list(NEU_DET_CLASSES),
                        help='class names, in category-id order (default: '
                        'the six NEU-DET classes)')
    parser.add_argument('--no-progress', action='store_true',
                        help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        manifest = convert(args.src, args.out, args.seed, args.test_per_class,
                           args.fix_boxes, args.classes, not args.no_progress)
    except ConversionError as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 1
    for warning in manifest['warnings']:
        print(f'WARNING: {warning}', file=sys.stderr)
    for group in manifest['byte_identical_groups']:
        print(f'note: byte-identical images kept in one split: '
              f'{", ".join(group)}')
    print_summary(manifest['summary'])
    print(f'Wrote {args.out} ({manifest["num_images"]["train"]} train / '
          f'{manifest["num_images"]["test"]} test images, '
          f'{sum(manifest["num_boxes"].values())} boxes).')
    return 0


if __name__ == '__main__':
    sys.exit(main())
