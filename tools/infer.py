"""Detect defects on new images and take the cost-based decision.

    python tools/infer.py CONFIG CKPT INPUT [--out-dir work_dirs/infer]
        [--decision min-risk|argmax|THRESHOLDS.json] [--score-thr 0.25]
        [--device cpu|cuda] [--batch-size 1]

INPUT is an image, a folder (searched recursively) or a .txt file listing
image paths. Writes OUT/vis/<input name> (decided detections drawn),
OUT/predictions.json (COCO results format plus file_name, cls_probs,
decision and expected_cost per detection) and prints a summary. A file
that cannot be read is reported and skipped; the exit code is 1 when any
input failed, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import List, Sequence, Tuple

import cv2
import mmengine
import numpy as np
from mmengine.config import DictAction
from tqdm import tqdm

from csdet.apis import DefectDetector, ImageResult, read_image
from csdet.utils.atomic import atomic_write
from csdet.utils.runner_setup import UserInputError

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='.pth, work dir or .onnx')
    parser.add_argument('input', help='image, folder or .txt list of paths')
    parser.add_argument('--out-dir', default='work_dirs/infer')
    parser.add_argument('--decision', default='min-risk',
                        help="'min-risk' (default), 'argmax' or a "
                        'thresholds JSON from tools/tune_thresholds.py')
    parser.add_argument('--score-thr', type=float, default=0.25,
                        help="threshold of --decision argmax (and of the "
                        'boxes drawn for the other rules: all decided ones)')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda, cuda:1 ... (default: cuda if any)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def collect_inputs(spec: str) -> Tuple[Path, List[Path]]:
    """(root for relative output names, image paths) of an INPUT."""
    path = Path(spec)
    if not path.exists():
        raise UserInputError(f'input not found: {spec}')
    if path.is_dir():
        images = sorted(p for p in path.rglob('*')
                        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise UserInputError(f'{spec}: no images ({", ".join(IMAGE_SUFFIXES)}) '
                                 'found in this folder or below')
        return path, images
    if path.suffix.lower() == '.txt':
        lines = [line.strip() for line in path.read_text().splitlines()]
        images = [Path(line) if Path(line).is_absolute() else
                  path.parent / line for line in lines if line]
        if not images:
            raise UserInputError(f'{spec}: the list names no image')
        return Path(os.path.commonpath([p.parent for p in images] or
                                       [path.parent])), images
    return path.parent, [path]


def draw(image: np.ndarray, result: ImageResult, palette: Sequence) -> np.ndarray:
    """The image with each detection decided as a defect: box in its
    decided class's colour, '<decided> <score>' (and the model's class
    when the decision differs)."""
    canvas = image.copy()
    names = result.decided_names()
    for index in result.defects:
        x1, y1, x2, y2 = (int(round(v)) for v in result.bboxes[index])
        decided = int(result.decisions[index])
        colour = tuple(int(c) for c in palette[decided % len(palette)])[::-1]
        text = f'{names[index]} {result.scores[index]:.2f}'
        if decided != int(result.labels[index]):
            text += f' (model: {result.classes[result.labels[index]]})'
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 1)
        cv2.putText(canvas, text, (x1, max(y1 - 3, 8)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    return canvas


def encode(image: np.ndarray, suffix: str) -> bytes:
    ok, buffer = cv2.imencode(suffix if suffix in ('.png', '.jpg', '.jpeg',
                                                   '.bmp') else '.png', image)
    if not ok:
        raise ValueError('could not encode the drawn image')
    return buffer.tobytes()


def summary_table(results: List[ImageResult], failed: List[str],
                  classes: Sequence[str]):
    from rich.table import Table
    counts = Counter(name for result in results
                     for name in result.decided_names())
    table = Table(title=f'{len(results)} images decided, {len(failed)} '
                  'failed')
    table.add_column('decided class')
    table.add_column('detections', justify='right')
    for name in list(classes) + ['no defect']:
        table.add_row(name, str(counts.get(name, 0)))
    images_with_defect = sum(1 for r in results if len(r.defects))
    table.add_row('images with a defect', str(images_with_defect),
                  end_section=True)
    total = sum(float(r.expected_costs.sum()) for r in results)
    table.add_row('total expected cost', f'{total:.4g}')
    return table


def run(args: argparse.Namespace) -> int:
    root, paths = collect_inputs(args.input)
    detector = DefectDetector(args.config, args.checkpoint,
                              device=args.device, decision=args.decision,
                              score_thr=args.score_thr,
                              cfg_options=args.cfg_options)
    palette = detector.palette()
    out_dir = Path(args.out_dir)
    results, failed, entries = [], [], []
    with tqdm(total=len(paths), desc='infer', unit='img') as bar:
        for start in range(0, len(paths), args.batch_size):
            batch, images = [], []
            for path in paths[start:start + args.batch_size]:
                try:
                    images.append(read_image(path))
                    batch.append(path)
                except (OSError, ValueError) as error:
                    failed.append(str(path))
                    tqdm.write(f'error: {error} (skipped)', file=sys.stderr)
            for path, image, result in zip(
                    batch, images, detector(images, len(images) or 1)
                    if images else []):
                result.source = str(path)
                name = path.relative_to(root) if path.is_relative_to(
                    root) else Path(path.name)
                with atomic_write(out_dir / 'vis' / name, 'wb') as file:
                    file.write(
                        encode(draw(image, result, palette),
                               path.suffix.lower()))
                for entry in result.to_coco(image_id=len(results) + 1):
                    entries.append(dict(entry, file_name=str(path)))
                results.append(result)
            bar.update(len(paths[start:start + args.batch_size]))
    with atomic_write(out_dir / 'predictions.json', 'wb') as file:
        file.write(mmengine.dump(entries, file_format='json').encode())
    from rich.console import Console
    Console().print(summary_table(results, failed, detector.classes))
    print(f'wrote {out_dir / "vis"} and {out_dir / "predictions.json"} '
          f'(decision: {detector.decision_rule.name})')
    if failed:
        print(f'{len(failed)} input(s) failed: {", ".join(failed)}',
              file=sys.stderr)
    return 1 if failed else 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.batch_size < 1:
        print('error: --batch-size must be >= 1', file=sys.stderr)
        return 2
    try:
        return run(args)
    except UserInputError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
