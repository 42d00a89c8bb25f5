"""Check a COCO-format detection dataset before a run uses it.

:func:`check_coco_dataset` reads one annotation file and its images and
reports every problem at once, each with the file it concerns and the fix:
unreadable or non-COCO JSON, categories that differ BY NAME from the
config's classes (order is free: datasets map classes by name), annotations
pointing to unknown images or categories, missing / empty / undecodable
images, images whose decoded size differs from the JSON's, and boxes that
are not finite, have no area (MMDetection drops them silently) or leave
the image by more than one pixel. The result is cached under
``$XDG_CACHE_HOME/csdet/dataset_checks/`` (default ``~/.cache``), keyed on
the annotation file's path, size and mtime and every image's size and
mtime, so that a check of an unchanged dataset decodes nothing.

:func:`check_config_datasets` runs the check on a loaded config's splits
(tools/train.py, tools/test.py, tools/browse_dataset.py); with
``--skip-bad`` a dataset that accepts ``skip_bad=True`` leaves the bad
images out, reading them with :func:`bad_images_for`.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
import os
import os.path as osp
from dataclasses import dataclass, field
from pathlib import Path
from typing import (Dict, Iterator, List, NamedTuple, Optional, Sequence,
                    Set, Tuple)

import cv2
import mmengine
import numpy as np
from mmengine.config import Config
from mmengine.logging import print_log
from tqdm import tqdm

from csdet.utils.atomic import atomic_dump
from csdet.utils.runner_setup import UserInputError

# Bump when the rules change, so that older cached results are not reused.
CHECK_VERSION = 1
# A box may leave its image by this many pixels (rounding in converters).
BORDER_TOLERANCE = 1.0

FIX_IMAGE = ('replace the image with a readable copy, or remove its entry '
             '(and its annotations) from the annotation file')
FIX_BOX = 'correct or delete the annotation in the annotation file'


class Problem(NamedTuple):
    """One problem: the file it concerns, what is wrong, and the fix."""
    file: str
    message: str
    fix: str


@dataclass
class DatasetReport:
    """Result of :func:`check_coco_dataset` for one annotation file.

    ``bad_image_ids`` / ``bad_file_names`` (the JSON's ``id`` /
    ``file_name``) are the images ``--skip-bad`` leaves out: an image is bad
    as a whole when the image or any of its boxes has a problem.
    ``skippable`` is False when a problem concerns the whole annotation file
    (unreadable, class mismatch, duplicate ids, no image found), which
    leaving images out cannot fix.
    """
    ann_file: str
    img_dir: str = ''
    num_images: int = 0
    num_boxes: int = 0
    num_negative_images: int = 0
    problems: List[Problem] = field(default_factory=list)
    bad_image_ids: Set[int] = field(default_factory=set)
    bad_file_names: Set[str] = field(default_factory=set)
    skippable: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (f'{self.ann_file}: {self.num_images} images '
                f'({self.num_negative_images} without boxes), '
                f'{self.num_boxes} boxes, images in {self.img_dir or "."}')

    def format(self) -> str:
        """Readable multi-line report: summary, one entry per problem
        (file, message, fix), and a closing line with what to do."""
        if self.ok:
            return f'{self.summary()}: no problems found.'
        lines = [f'{self.summary()}: {len(self.problems)} problem(s):']
        for problem in self.problems:
            lines.append(f'  {problem.file}: {problem.message}')
            lines.append(f'      fix: {problem.fix}')
        if not self.skippable:
            lines.append('Fix the files above (--skip-bad cannot help: a '
                         'problem concerns the whole annotation file).')
        else:
            kept = self.num_images - len(self.bad_image_ids)
            lines.append(
                f'Fix the files above, or pass --skip-bad to leave out the '
                f'{len(self.bad_image_ids)} bad image(s) and use the other '
                f'{kept}.')
        return '\n'.join(lines)


# ---------------------------------------------------------------- cache --
def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/csdet/dataset_checks`` (``~/.cache`` by default)."""
    root = os.environ.get('XDG_CACHE_HOME') or osp.join(
        osp.expanduser('~'), '.cache')
    return Path(root) / 'csdet' / 'dataset_checks'


def _cache_path(ann_file: str, img_dir: str) -> Path:
    key = f'{osp.abspath(ann_file)}\0{osp.abspath(img_dir or ".")}'
    return cache_dir() / (hashlib.sha1(key.encode()).hexdigest() + '.pkl')


def _stat(path: str) -> Optional[Tuple[int, int]]:
    """(size, mtime in ns), or None when ``path`` is not a file."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns) if osp.isfile(path) else None


def _image_stats(img_dir: str, file_names: Sequence[str]) -> List:
    return [_stat(osp.join(img_dir, name)) for name in file_names]


def _load_cached(ann_file: str, img_dir: str) -> Optional[dict]:
    """The cached scan, when the annotation file and every image it lists
    still have the size and mtime they had when it was made."""
    path = _cache_path(ann_file, img_dir)
    if not path.is_file():
        return None
    try:
        entry = mmengine.load(str(path), file_format='pkl')
    except Exception:  # a damaged cache entry is recomputed, not trusted
        return None
    if not isinstance(entry, dict) or entry.get('version') != CHECK_VERSION:
        return None
    if entry.get('ann_stat') != _stat(ann_file):
        return None
    if entry.get('image_stats') != _image_stats(img_dir,
                                                entry.get('file_names', [])):
        return None
    try:
        fields = dict(entry['report'])
        fields['problems'] = [Problem(*p) for p in fields['problems']]
        return dict(entry, report=DatasetReport(**fields))
    except (KeyError, TypeError, ValueError):
        return None


def _store(entry: dict, ann_file: str, img_dir: str) -> None:
    """Write the cache entry atomically (temp file, then rename)."""
    path = _cache_path(ann_file, img_dir)
    try:
        # Plain types only, so that the file does not depend on classes.
        report = dict(vars(entry['report']), problems=[
            tuple(p) for p in entry['report'].problems])
        atomic_dump(dict(entry, report=report), path, file_format='pkl')
    except OSError as error:  # a read-only cache only costs time
        print_log(f'dataset check not cached ({path}): {error}',
                  logger='current')


# ----------------------------------------------------------------- scan --
def decode_image(data: bytes) -> Optional[np.ndarray]:
    """Decode image bytes as the training pipeline does (OpenCV, colour);
    None when they are not a readable image."""
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_coco(ann_file: str) -> Tuple[Optional[dict], Optional[Problem]]:
    """The parsed JSON, or the problem that prevents reading it."""
    fix = ('re-create the annotation file with a converter in '
           'tools/dataset_converters/')
    try:
        with open(ann_file, encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        return None, Problem(ann_file, 'annotation file not found',
                             'check data_root and ann_file in the config')
    except (OSError, UnicodeDecodeError) as error:
        return None, Problem(ann_file, f'cannot be read ({error})', fix)
    except json.JSONDecodeError as error:
        return None, Problem(ann_file, f'is not valid JSON ({error})', fix)
    if not isinstance(data, dict):
        return None, Problem(ann_file, 'is not a COCO file (top level is '
                             f'a {type(data).__name__}, not an object)', fix)
    missing = [key for key in ('images', 'annotations', 'categories')
               if not isinstance(data.get(key), list)]
    if missing:
        return None, Problem(ann_file, 'is not a COCO detection file: '
                             f'no list {missing}', fix)
    return data, None


class _Scan:
    """Collects problems and bad images while one file is scanned."""

    def __init__(self, ann_file: str, img_dir: str) -> None:
        self.ann_file, self.img_dir = ann_file, img_dir
        self.problems: List[Problem] = []
        self.bad_ids: Set[int] = set()
        self.fatal = False

    def file_problem(self, message: str, fix: str, fatal: bool) -> None:
        self.problems.append(Problem(self.ann_file, message, fix))
        self.fatal = self.fatal or fatal

    def image_problem(self, image: dict, message: str, fix: str) -> None:
        self.problems.append(Problem(
            osp.join(self.img_dir, image['file_name']), message, fix))
        self.bad_ids.add(image['id'])


def _check_categories(data: dict, scan: _Scan) -> Dict[int, str]:
    """Category id -> name; malformed or duplicate entries are fatal."""
    names: Dict[int, str] = {}
    for cat in data['categories']:
        if not (isinstance(cat, dict) and isinstance(cat.get('id'), int)
                and isinstance(cat.get('name'), str)):
            scan.file_problem(f'category entry {cat!r} needs an int id and '
                              'a str name', 'correct the categories list',
                              fatal=True)
        elif cat['id'] in names or cat['name'] in names.values():
            scan.file_problem(f'category {cat!r} repeats an id or a name',
                              'give every category its own id and name',
                              fatal=True)
        else:
            names[cat['id']] = cat['name']
    return names


def _check_images(data: dict, scan: _Scan) -> Dict[int, dict]:
    """Image id -> entry; malformed or duplicate entries are fatal."""
    images: Dict[int, dict] = {}
    for image in data['images']:
        valid = (isinstance(image, dict) and isinstance(image.get('id'), int)
                 and isinstance(image.get('file_name'), str)
                 and all(_is_number(image.get(key)) and image[key] > 0
                         for key in ('width', 'height')))
        if not valid:
            scan.file_problem(
                f'image entry {image!r} needs an int id, a file_name and '
                'positive width and height', 'correct the images list',
                fatal=True)
        elif image['id'] in images:
            scan.file_problem(f'image id {image["id"]} is used twice',
                              'give every image its own id', fatal=True)
        else:
            images[image['id']] = image
    return images


def _box_problem(ann: dict, image: dict) -> Optional[str]:
    """What is wrong with one annotation's box, or None."""
    bbox = ann.get('bbox')
    if not (isinstance(bbox, list) and len(bbox) == 4
            and all(_is_number(v) for v in bbox)):
        return f'annotation {ann.get("id")}: bbox {bbox!r} is not [x, y, w, h]'
    x, y, w, h = bbox
    if not all(math.isfinite(v) for v in bbox):
        return f'annotation {ann.get("id")}: bbox {bbox} is not finite'
    if w < 1 or h < 1:
        return (f'annotation {ann.get("id")}: bbox {bbox} is less than 1 px '
                'wide or high (MMDetection would drop it silently)')
    area = ann.get('area')
    if not _is_number(area) or area <= 0:
        return (f'annotation {ann.get("id")}: area {area!r} is missing or '
                '<= 0 (MMDetection would drop the box silently); set it to '
                'w * h')
    width, height = image['width'], image['height']
    tol = BORDER_TOLERANCE
    if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
        return (f'annotation {ann.get("id")}: bbox {bbox} leaves the '
                f'{width} x {height} image by more than {tol:g} px')
    return None


def _check_annotations(data: dict, images: Dict[int, dict],
                       categories: Dict[int, str], scan: _Scan
                       ) -> Tuple[Dict[int, int], Dict[str, int]]:
    """Per image id its number of boxes, per category name its number of
    boxes; adds every box problem (the image becomes bad)."""
    boxes_per_image = {image_id: 0 for image_id in images}
    boxes_per_class = {name: 0 for name in categories.values()}
    seen_ids: Set = set()
    for ann in data['annotations']:
        if not isinstance(ann, dict):
            scan.file_problem(f'annotation entry {ann!r} is not an object',
                              FIX_BOX, fatal=True)
            continue
        if ann.get('id') in seen_ids:
            scan.file_problem(f'annotation id {ann.get("id")} is used twice '
                              '(MMDetection requires unique ids)',
                              'give every annotation its own id', fatal=True)
        seen_ids.add(ann.get('id'))
        image = images.get(ann.get('image_id'))
        if image is None:
            scan.file_problem(
                f'annotation {ann.get("id")} refers to image_id '
                f'{ann.get("image_id")!r}, which is not in the images list '
                '(the box would be ignored)', FIX_BOX, fatal=False)
            continue
        boxes_per_image[image['id']] += 1
        if ann.get('category_id') not in categories:
            scan.image_problem(
                image, f'annotation {ann.get("id")} has category_id '
                f'{ann.get("category_id")!r}, which is not in the categories '
                'list (the box would be dropped silently)', FIX_BOX)
            continue
        boxes_per_class[categories[ann['category_id']]] += 1
        message = None if ann.get('ignore') else _box_problem(ann, image)
        if message:
            scan.image_problem(image, message, FIX_BOX)
    return boxes_per_image, boxes_per_class


def _check_image_file(image: dict, scan: _Scan) -> None:
    path = osp.join(scan.img_dir, image['file_name'])
    try:
        with open(path, 'rb') as f:
            content = f.read()
    except FileNotFoundError:
        scan.image_problem(image, 'image file not found', FIX_IMAGE)
        return
    except OSError as error:
        scan.image_problem(image, f'cannot be read ({error})', FIX_IMAGE)
        return
    if not content:
        scan.image_problem(image, 'image file is empty (0 bytes)', FIX_IMAGE)
        return
    decoded = decode_image(content)
    if decoded is None:
        scan.image_problem(image, 'does not decode as an image', FIX_IMAGE)
        return
    height, width = decoded.shape[:2]
    if (width, height) != (image['width'], image['height']):
        scan.image_problem(
            image, f'decodes to {width} x {height} px but the annotation '
            f'file says {image["width"]} x {image["height"]} (boxes would '
            'be misplaced)', 'correct width/height in the annotation file '
            '(and check the boxes), or replace the image')


def _scan(ann_file: str, img_dir: str, progress: bool) -> dict:
    """Check everything that does not depend on the config's classes.

    Returns the cache entry: counts, problems, bad images, the file's
    category names and box counts, and the stats that key the cache.
    """
    entry = dict(version=CHECK_VERSION, ann_stat=_stat(ann_file),
                 file_names=[], image_stats=[], categories=None,
                 report=DatasetReport(ann_file=ann_file, img_dir=img_dir))
    report = entry['report']
    data, problem = _read_coco(ann_file)
    if problem is not None:
        report.problems.append(problem)
        report.skippable = False
        return entry
    scan = _Scan(ann_file, img_dir)
    categories = _check_categories(data, scan)
    images = _check_images(data, scan)
    boxes_per_image, boxes_per_class = _check_annotations(
        data, images, categories, scan)
    entry['categories'] = boxes_per_class
    file_names = [image['file_name'] for image in images.values()]
    entry['file_names'] = file_names
    entry['image_stats'] = _image_stats(img_dir, file_names)
    for image in tqdm(images.values(), desc=f'checking {ann_file}',
                      unit='img', disable=not progress, leave=False):
        _check_image_file(image, scan)
    if images and all(stat is None for stat in entry['image_stats']):
        # One message instead of one per image: the folder is wrong.
        scan.problems = [p for p in scan.problems
                         if p.message != 'image file not found']
        scan.file_problem(
            f'none of its {len(images)} images is in {img_dir or "."} '
            f'(e.g. {file_names[0]})', "check data_root and "
            "data_prefix['img'] in the config", fatal=True)
    report.num_images = len(images)
    report.num_boxes = sum(boxes_per_image.values())
    report.num_negative_images = sum(1 for n in boxes_per_image.values()
                                     if n == 0)
    report.problems = sorted(scan.problems,
                             key=lambda p: (p.file != ann_file, p.file))
    report.bad_image_ids = scan.bad_ids
    report.bad_file_names = {images[i]['file_name'] for i in scan.bad_ids}
    report.skippable = not scan.fatal
    return entry


def _class_problems(ann_file: str, boxes_per_class: Dict[str, int],
                    classes: Sequence[str]) -> List[Problem]:
    """Config classes vs the file's category names (order is free)."""
    classes = list(classes)
    in_file = list(boxes_per_class)
    fix = (f'set classes in the config to the file\'s category names (any '
           f'order): {in_file}, or rename the categories in the file')
    problems = []
    repeated = sorted({name for name in classes if classes.count(name) > 1})
    if repeated:
        problems.append(Problem(ann_file, f'the config lists classes '
                                f'{repeated} more than once',
                                'list every class once'))
    missing = [name for name in classes if name not in boxes_per_class]
    extra = [name for name in in_file if name not in classes]
    if missing or extra:
        dropped = sum(boxes_per_class[name] for name in extra)
        problems.append(Problem(
            ann_file, f'classes do not match the file\'s categories: '
            f'missing from the file {missing}, in the file but not in the '
            f'config {extra} ({dropped} box(es) would be dropped silently); '
            f'config classes {classes}, file categories {in_file}', fix))
    return problems


def check_coco_dataset(ann_file: str, img_dir: str,
                       classes: Optional[Sequence[str]] = None,
                       progress: bool = True,
                       cache: bool = True) -> DatasetReport:
    """Check a COCO annotation file and its images; report every problem.

    Args:
        ann_file: the COCO JSON file.
        img_dir: folder the JSON's ``file_name`` entries are relative to.
        classes: the config's class names; compared by name with the file's
            categories (a different order is not a problem). None: no
            comparison.
        progress: show a tqdm bar while images are decoded.
        cache: reuse / store the result under :func:`cache_dir`; an unchanged
            dataset (annotation file and images: same size and mtime) is
            then not decoded again.

    Returns:
        The :class:`DatasetReport`. Nothing is raised for bad data.
    """
    entry = _load_cached(ann_file, img_dir) if cache else None
    if entry is None:
        entry = _scan(ann_file, img_dir, progress)
        if cache and entry['ann_stat'] is not None:
            _store(entry, ann_file, img_dir)
    report: DatasetReport = entry['report']
    report.ann_file, report.img_dir = ann_file, img_dir
    if classes is not None and entry['categories'] is not None:
        extra = _class_problems(ann_file, entry['categories'], classes)
        if extra:
            report.problems = extra + report.problems
            report.skippable = False
    return report


def bad_images_for(ann_file: str, img_dir: str) -> Set[str]:
    """The ``file_name`` values (as the annotation file spells them) of the
    images that ``--skip-bad`` leaves out.

    Reads the cached check (tools/train.py and tools/test.py run it before
    the Runner is built); checks the dataset, without a progress bar, when
    it is not cached.
    """
    return set(check_coco_dataset(ann_file, img_dir,
                                  progress=False).bad_file_names)


# --------------------------------------------------------------- config --
def _leaf_datasets(dataset: dict) -> Iterator[dict]:
    """Innermost dataset configs, through wrappers (``dataset``) and
    concatenations (``datasets``)."""
    if 'dataset' in dataset:
        yield from _leaf_datasets(dataset['dataset'])
    elif 'datasets' in dataset:
        for child in dataset['datasets']:
            yield from _leaf_datasets(child)
    else:
        yield dataset


def split_datasets(cfg: Config, split: str) -> List[dict]:
    """The innermost dataset configs of ``<split>_dataloader`` (empty when
    the config has no such loader)."""
    loader = cfg.get(f'{split}_dataloader')
    if not loader or not loader.get('dataset'):
        return []
    return list(_leaf_datasets(loader['dataset']))


def _dataset_class(dataset_type):
    if not isinstance(dataset_type, str):
        return dataset_type
    import mmdet.datasets  # noqa: F401  (fills mmdet's DATASETS registry)
    from mmdet.registry import DATASETS
    return DATASETS.get(dataset_type)


def _is_coco(dataset: dict) -> bool:
    """Whether the dataset reads COCO JSON (a CocoDataset or subclass);
    other types are not checked."""
    from mmdet.datasets import CocoDataset
    cls = _dataset_class(dataset.get('type'))
    is_coco = isinstance(cls, type) and issubclass(cls, CocoDataset)
    if not is_coco:
        print_log(f'dataset check: {dataset.get("type")} is not a COCO '
                  f'dataset; {dataset.get("ann_file")} is not checked',
                  logger='current')
    return is_coco


def _under_root(path: str, data_root: Optional[str]) -> str:
    """mmengine's BaseDataset rule: relative paths are under data_root."""
    if data_root and not osp.isabs(path):
        return osp.join(data_root, path)
    return path


def _dataset_paths(dataset: dict) -> Tuple[str, str, Optional[list]]:
    """(annotation file, image folder, classes) of one dataset config."""
    data_root = dataset.get('data_root')
    ann_file = _under_root(dataset['ann_file'], data_root)
    prefix = (dataset.get('data_prefix') or {}).get('img', '')
    img_dir = _under_root(prefix, data_root)
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None:
        cls = _dataset_class(dataset.get('type'))
        classes = getattr(cls, 'METAINFO', {}).get('classes')
    return ann_file, img_dir, (list(classes) if classes is not None else None)


def config_dataset_reports(cfg: Config, splits: Sequence[str],
                           progress: bool = True
                           ) -> List[Tuple[str, DatasetReport]]:
    """(split names, report) for every distinct dataset of ``splits``;
    a dataset shared by splits (val = test) is checked once, as 'val+test'."""
    found: Dict[Tuple, List[str]] = {}
    for split in splits:
        for dataset in split_datasets(cfg, split):
            if not dataset.get('ann_file') or not _is_coco(dataset):
                continue
            ann_file, img_dir, classes = _dataset_paths(dataset)
            key = (ann_file, img_dir, None if classes is None
                   else tuple(classes))
            found.setdefault(key, []).append(split)
    reports = []
    for (ann_file, img_dir, classes), names in found.items():
        report = check_coco_dataset(ann_file, img_dir, classes,
                                    progress=progress)
        reports.append(('+'.join(dict.fromkeys(names)), report))
    return reports


def check_config_datasets(cfg: Config,
                          splits: Sequence[str] = ('train', 'val', 'test'),
                          skip_bad: bool = False) -> List[DatasetReport]:
    """Check the datasets of a loaded config's splits before a run.

    Args:
        cfg: the loaded config (each split's innermost dataset is checked
            with its data_root, ann_file, data_prefix['img'] and classes).
        splits: loader names without ``_dataloader``; absent ones are
            skipped.
        skip_bad: accept problems that leaving images out fixes, and log
            how many images of each split are left out.

    Returns:
        One report per distinct dataset.

    Raises:
        UserInputError: listing every problem of every split, when there
            are problems and ``skip_bad`` is False, or when a problem cannot
            be fixed by leaving images out.
    """
    reports = config_dataset_reports(cfg, splits)
    failing = [(name, report) for name, report in reports
               if not report.ok and (not skip_bad or not report.skippable)]
    if failing:
        count = sum(len(report.problems) for _, report in failing)
        body = '\n\n'.join(f'[{name}] {report.format()}'
                           for name, report in failing)
        raise UserInputError(f'dataset check found {count} problem(s):\n\n'
                             f'{body}')
    for name, report in reports:
        if report.ok:
            continue
        print_log(f'--skip-bad: {name}: leaving out '
                  f'{len(report.bad_image_ids)} of {report.num_images} images '
                  f'of {report.ann_file}:\n{report.format()}',
                  logger='current', level=logging.WARNING)
    return [report for _, report in reports]


def _coco_metrics(cfg: Config, split: str) -> List[dict]:
    """The split's CocoMetric configs (and subclasses') that read an
    annotation file."""
    from mmdet.evaluation import CocoMetric
    from mmdet.registry import METRICS
    evaluator = cfg.get(f'{split}_evaluator')
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator = evaluator['metrics']
    nodes = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    found = []
    for node in nodes:
        if not isinstance(node, dict) or not node.get('ann_file'):
            continue
        cls = node.get('type')
        cls = METRICS.get(cls) if isinstance(cls, str) else cls
        if isinstance(cls, type) and issubclass(cls, CocoMetric):
            found.append(node)
    return found


def _packs_instances(cfg: Config, split: str) -> bool:
    """Whether the split's pipeline passes the dataset's ``instances`` to
    the metrics (PackDetInputs meta_keys)."""
    pipeline = cfg[f'{split}_dataloader']['dataset'].get('pipeline') or []
    return any(isinstance(step, dict)
               and str(step.get('type', '')).endswith('PackDetInputs')
               and 'instances' in (step.get('meta_keys') or ())
               for step in pipeline)


def _evaluate_kept_images(cfg: Config, split: str) -> None:
    """Make the split's COCO metrics read the ground truth of the images
    the dataset keeps: with ``ann_file`` they would evaluate every image of
    the file and count the left-out images' boxes as missed."""
    metrics = _coco_metrics(cfg, split)
    if metrics and not _packs_instances(cfg, split):
        raise UserInputError(
            f'--skip-bad on the {split} split: its CocoMetric reads '
            f'{metrics[0]["ann_file"]}, so the boxes of the left-out images '
            "would count as missed. Add 'instances' to PackDetInputs' "
            f'meta_keys in the {split} pipeline (the metric then reads the '
            'kept images\' boxes from the dataset), or fix the files and run '
            'without --skip-bad.')
    for metric in metrics:
        print_log(f'--skip-bad: the {split} CocoMetric evaluates the kept '
                  f'images (ground truth from the dataset, not '
                  f'{metric.pop("ann_file")})', logger='current')


def enable_skip_bad(cfg: Config, splits: Sequence[str]) -> None:
    """Set ``skip_bad=True`` on the innermost datasets of ``splits``, and
    make their COCO metrics evaluate the kept images only.

    Raises:
        UserInputError: when a dataset's type does not accept ``skip_bad``
            (e.g. plain CocoDataset), or a split's CocoMetric reads an
            annotation file while its pipeline does not pass the dataset's
            ``instances`` on (the metric would count left-out boxes as
            missed); the message names the split and the fix.
    """
    for split in splits:
        for dataset in split_datasets(cfg, split):
            cls = _dataset_class(dataset.get('type'))
            accepts = cls is not None and 'skip_bad' in inspect.signature(
                cls.__init__).parameters
            if not accepts:
                name = getattr(cls, '__name__', dataset.get('type'))
                raise UserInputError(
                    f'--skip-bad needs a dataset that can leave images out, '
                    f'but the {split} dataset is {name}. Use '
                    "type='DefectDataset' (or a subclass such as "
                    'NEUDETDataset) in the config, or fix the files the '
                    'dataset check lists and run without --skip-bad.')
            dataset['skip_bad'] = True
        if split_datasets(cfg, split):
            _evaluate_kept_images(cfg, split)
