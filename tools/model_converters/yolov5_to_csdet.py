"""Convert an Ultralytics YOLOv5 checkpoint into a csdet YOLOv5 checkpoint.

    python tools/model_converters/yolov5_to_csdet.py yolov5s.pt \
        work_dirs/pretrained/yolov5s_csdet.pth [--num-classes 6]

Reads v6.0-v7.0 detection checkpoints of any size (n/s/m/l/x) as written by
Ultralytics' train.py (the EMA model when present, else 'model'), checks
that they are the graph csdet's YOLOv5 implements, and writes
``{'meta': ..., 'state_dict': ...}`` for mmengine's ``load_from``.

Class count: without --num-classes every weight is kept. With
``--num-classes N`` different from the checkpoint's, the head's output convs
(whose rows mix box, objectness and class outputs) are left out, as
Ultralytics does when fine-tuning on another class count: the csdet model
keeps its own initialisation for them, and mmengine lists them as missing
keys when loading.

Needs the YOLOv5 reference package to unpickle the file (see
requirements/reference.txt; ``bash tools/setup_env.sh`` installs it into
.venv/reference, which this tool finds by itself). Unpickling runs code from
the file: convert only checkpoints you trust.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE = REPO_ROOT / '.venv' / 'reference'

# (depth, width) multiples of the released sizes -> csdet base config.
SIZE_CONFIGS = {
    (0.33, 0.25): 'yolov5n.py',
    (0.33, 0.5): 'yolov5s.py',
    (0.67, 0.75): 'yolov5m.py',
    (1.0, 1.0): 'yolov5l.py',
    (1.33, 1.25): 'yolov5x.py',
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Ultralytics YOLOv5 (v6.0-v7.0) .pt -> csdet .pth')
    parser.add_argument('src', type=Path, help='Ultralytics checkpoint (.pt)')
    parser.add_argument('dst', type=Path, help='csdet checkpoint to write')
    parser.add_argument(
        '--num-classes', type=int, default=None,
        help='class count of the model you will load it into; when it '
        'differs from the checkpoint\'s, the head output convs are left out '
        '(re-initialised by the model)')
    parser.add_argument(
        '--source', choices=('auto', 'ema', 'model'), default='auto',
        help="which model of the file: 'auto' = the EMA one when present")
    parser.add_argument(
        '--reference', type=Path, default=None,
        help='folder holding the yolov5 package, added to sys.path '
        f'(default: {DEFAULT_REFERENCE.relative_to(REPO_ROOT)} when present)')
    return parser.parse_args(argv)


def _add_reference_path(folder: Optional[Path]) -> None:
    if folder is None:
        folder = DEFAULT_REFERENCE if DEFAULT_REFERENCE.is_dir() else None
    elif not folder.is_dir():
        raise FileNotFoundError(f'--reference {folder}: no such folder')
    if folder is not None and str(folder) not in sys.path:
        sys.path.append(str(folder))


def _save_atomically(checkpoint: dict, dst: Path) -> None:
    from csdet.utils.atomic import atomic_path

    with atomic_path(dst) as tmp:
        torch.save(checkpoint, tmp)


def convert(src: Path, dst: Path, num_classes: Optional[int] = None,
            source: str = 'auto') -> dict:
    """Convert ``src`` into ``dst``; returns the written ``meta``."""
    from csdet.models.utils import (convert_state_dict, drop_class_dependent,
                                    load_ultralytics_model)

    model = load_ultralytics_model(src, source=source)
    converted = convert_state_dict(model)
    if num_classes is not None:
        drop_class_dependent(converted, num_classes)
    meta = dict(
        converted_from=str(src.name),
        converter='tools/model_converters/yolov5_to_csdet.py',
        deepen_factor=converted.deepen_factor,
        widen_factor=converted.widen_factor,
        num_classes=converted.num_classes,
        source_num_classes=converted.source_num_classes,
        class_names=converted.class_names,
        dropped_keys=converted.dropped)
    _save_atomically(dict(meta=meta, state_dict=converted.state_dict), dst)
    return meta


def _report(meta: dict, dst: Path, num_classes: Optional[int]) -> None:
    size = (round(meta['deepen_factor'], 2), round(meta['widen_factor'], 2))
    base = SIZE_CONFIGS.get(size)
    model_line = (f'configs/_base_/models/{base}' if base else
                  f'model = dict(deepen_factor={size[0]}, '
                  f'widen_factor={size[1]})')
    print(f'wrote {dst}: depth {size[0]}, width {size[1]} ({model_line}), '
          f'{meta["source_num_classes"]} classes in the checkpoint')
    if meta['dropped_keys']:
        print(f'--num-classes {num_classes} != '
              f'{meta["source_num_classes"]}: left out '
              f'{", ".join(meta["dropped_keys"])}; a model with '
              f'num_classes={num_classes} re-initialises these head output '
              'convs (mmengine reports them as missing keys when loading)')
    elif num_classes is not None:
        print(f'--num-classes {num_classes}: the checkpoint\'s class count, '
              'every weight kept')
    else:
        print(f'all weights kept: load into a model with num_classes='
              f'{meta["source_num_classes"]}, or convert again with '
              '--num-classes N for another class count (otherwise mmengine '
              'skips the head output convs with a size-mismatch warning and '
              'they keep their initialisation)')
    print(f"fine-tune with: load_from = '{dst}'")


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from csdet.models.utils import (ReferenceNotInstalledError,
                                    YOLOv5LayoutError)
    try:
        _add_reference_path(args.reference)
        meta = convert(args.src, args.dst, args.num_classes, args.source)
    except (ReferenceNotInstalledError, YOLOv5LayoutError, ValueError,
            FileNotFoundError) as exc:
        message = str(exc)
        if str(args.src) not in message:
            message = f'{args.src}: {message}'
        print(f'error: {message}', file=sys.stderr)
        return 2
    _report(meta, args.dst, args.num_classes)
    return 0


if __name__ == '__main__':
    sys.exit(main())
