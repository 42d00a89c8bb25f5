"""Pascal VOC XML: parsing, box checks, finding image/XML pairs.

Boxes: VOC stores 1-based, inclusive pixel indices; COCO wants 0-based
pixel edges. ``x = xmin - 1``, ``y = ymin - 1``, ``w = xmax - xmin + 1``,
``h = ymax - ymin + 1``, so a box covering pixels 1..200 of a 200-px image
becomes ``[0, 0, 200, 200]``. A box is outside the image when ``xmin < 1``,
``ymin < 1``, ``xmax > width`` or ``ymax > height``, and degenerate when
``xmax < xmin`` or ``ymax < ymin`` (no pixel covered).

``difficult`` and ``truncated`` are kept as per-annotation fields. The image
size comes from the decoded image; a different XML ``<size>`` is a warning.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .errors import Problem
from .records import (IMAGE_SUFFIXES, UNDECODABLE, Box, ImageRecord,
                      natural_key, read_image)
from .writer import plain

BBOX_CONVENTION = ('VOC 1-based inclusive -> COCO 0-based edges: '
                   'x = xmin - 1, y = ymin - 1, w = xmax - xmin + 1, '
                   'h = ymax - ymin + 1')


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


# ------------------------------------------------------------------ parsing
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


# -------------------------------------------------------------- box checks
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


def to_box(obj: VocObject) -> Box:
    """A checked VOC object as a COCO-convention Box (difficult/truncated
    kept as extra annotation fields)."""
    bbox = tuple(plain(v) for v in voc_box_to_coco(obj.xmin, obj.ymin,
                                                   obj.xmax, obj.ymax))
    return Box(obj.name, bbox,
               dict(difficult=obj.difficult, truncated=obj.truncated))


# ------------------------------------------------------- finding the files
def child_dir(parent: Path, name: str) -> Optional[Path]:
    """Sub-folder of ``parent`` named ``name``, case-insensitively."""
    if not parent.is_dir():
        return None
    for child in sorted(parent.iterdir()):
        if child.is_dir() and child.name.lower() == name.lower():
            return child
    return None


def index_files(folders: Iterable[Path], suffixes: Sequence[str],
                what: str) -> Tuple[Dict[str, Path], List[Problem]]:
    """Map file stem -> path under ``folders`` (recursive); a second file
    with the same stem is a problem."""
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


@dataclass
class VocPairs:
    """Matched files: ``stems`` (natural order) with ``images[stem]`` and
    ``xmls[stem]``; ``problems`` for unmatched or duplicate names."""
    stems: List[str]
    images: Dict[str, Path]
    xmls: Dict[str, Path]
    problems: List[Problem]


def pair_files(image_dirs: Sequence[Path], xml_dirs: Sequence[Path],
               src: Path) -> VocPairs:
    """Match images and XML files by stem (searching folders recursively).

    An XML without image and an image without XML are both problems.
    """
    images, problems = index_files(image_dirs, IMAGE_SUFFIXES, 'image')
    xmls, xml_problems = index_files(xml_dirs, ('.xml', ), 'annotation')
    problems += xml_problems
    where = ', '.join(str(p) for p in image_dirs)
    for stem in sorted(set(xmls) - set(images), key=natural_key):
        problems.append(Problem(xmls[stem], f'image missing: no {stem}.jpg '
                                f'(or other image type) in {where}'))
    for stem in sorted(set(images) - set(xmls), key=natural_key):
        problems.append(Problem(images[stem], 'no annotation file '
                                f'{stem}.xml for this image (add one, '
                                'without <object> for a defect-free image, '
                                'or remove the image)'))
    if not xmls:
        problems.append(Problem(Path(src), 'no annotation (.xml) files found'))
    stems = sorted(set(xmls) & set(images), key=natural_key)
    return VocPairs(stems, images, xmls, problems)


# --------------------------------------------------------- reading a pair
def read_pair(stem: str,
              image_path: Path,
              xml_path: Path,
              classes: Optional[Sequence[str]],
              fix_boxes: bool = False,
              allow_empty: bool = True
              ) -> Tuple[Optional[ImageRecord], List[Problem], List[Problem]]:
    """Read and check one image + XML pair.

    ``classes`` None accepts any object name; otherwise another name is a
    problem naming it. ``allow_empty`` False makes an XML without objects a
    problem (otherwise the image is a negative); --fix-boxes dropping every
    box of an image is always a problem. Returns (record or None
    when there is a problem, problems, warnings); the record's ``stratum``
    is left None for the caller to set.
    """
    problems: List[Problem] = []
    warnings: List[Problem] = []
    try:
        annotation = parse_voc_xml(xml_path)
    except VocParseError as error:
        problems.append(Problem(xml_path, str(error)))
        annotation = None
    size, digest = read_image(image_path)
    if size is None:
        problems.append(Problem(image_path, UNDECODABLE))
    if annotation is None:
        return None, problems, warnings
    if not annotation.objects and not allow_empty:
        problems.append(Problem(xml_path, 'empty annotation: no <object>'))
    if classes is not None:
        unknown = sorted({o.name for o in annotation.objects} - set(classes))
        if unknown:
            problems.append(Problem(
                xml_path, f'unknown class name(s) {unknown}; known: '
                f'{list(classes)} (pass --classes to change the list)'))
    if size is None:
        return None, problems, warnings
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
                                'dropped every box (fix the boxes; an image '
                                'without defects has no <object>)'))
    if problems:
        return None, problems, warnings
    return (ImageRecord(stem, image_path, width, height,
                        [to_box(o) for o in objects], source=xml_path,
                        digest=digest), problems, warnings)


# ------------------------------------------------------ ImageSets/Main lists
SPLIT_LIST_NAMES = ('train', 'val', 'test')


def find_image_sets(src: Path) -> Optional[Dict[str, Path]]:
    """``ImageSets/Main/{train,val,test}.txt`` under ``src`` (those that
    exist, case-insensitive folders), or None when there is none."""
    image_sets = child_dir(Path(src), 'ImageSets')
    main = child_dir(image_sets, 'Main') if image_sets else None
    if main is None:
        return None
    lists = {name: main / f'{name}.txt' for name in SPLIT_LIST_NAMES
             if (main / f'{name}.txt').is_file()}
    return lists or None


def read_split_lists(lists: Dict[str, Path], known: Sequence[str]
                     ) -> Tuple[Dict[str, List[str]], List[Problem]]:
    """Read split lists (one stem a line; VOC's optional second column is
    ignored). A stem not in ``known``, listed twice, or in two lists is a
    problem; so is a known stem that no list names."""
    known_set = set(known)
    where: Dict[str, Tuple[str, int]] = {}
    splits: Dict[str, List[str]] = {}
    problems: List[Problem] = []
    for split, path in lists.items():
        splits[split] = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            stem = fields[0]
            if stem not in known_set:
                problems.append(Problem(path, f'{stem!r} has no image + XML '
                                        'pair in the source folder', number))
            elif stem in where:
                other, other_line = where[stem]
                problems.append(Problem(
                    path, f'{stem!r} is already listed in {other}.txt line '
                    f'{other_line}; an image belongs to one split', number))
            else:
                where[stem] = (split, number)
                splits[split].append(stem)
    unlisted = sorted(known_set - set(where), key=natural_key)
    if unlisted:
        shown = ', '.join(unlisted[:10]) + (', ...' if len(unlisted) > 10
                                            else '')
        folder = next(iter(lists.values())).parent
        problems.append(Problem(
            folder, f'{len(unlisted)} image(s) are in no split list '
            f'({shown}); add them to {"/".join(lists)}.txt or remove them'))
    return splits, problems
