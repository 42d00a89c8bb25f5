"""tools/infer.py on a folder with a corrupt file, and on a list file."""
import json
import subprocess
import sys

import cv2
import numpy as np
from pycocotools.coco import COCO


def run_infer(repo_root, quick_checkpoint, source, out_dir, *extra):
    options = [f'{key}={value}'
               for key, value in quick_checkpoint['options'].items()]
    return subprocess.run(
        [sys.executable, 'tools/infer.py', quick_checkpoint['config'],
         quick_checkpoint['checkpoint'], str(source), '--out-dir',
         str(out_dir), '--device', 'cpu', '--cfg-options', *options,
         *extra],
        cwd=repo_root, capture_output=True, text=True, timeout=600)


def test_folder_with_a_corrupt_file(repo_root, quick_checkpoint,
                                    synthetic_set, tmp_path):
    folder = tmp_path / 'line' / 'camera1'
    folder.mkdir(parents=True)
    good = sorted(synthetic_set['images'].glob('*.png'))[:3]
    for path in good:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / 'broken.jpg').write_bytes(b'not a jpeg')
    (folder / 'notes.txt').write_text('ignored: not an image suffix')
    out = tmp_path / 'out'
    result = run_infer(repo_root, quick_checkpoint, tmp_path / 'line', out,
                       '--decision', 'argmax', '--score-thr', '0.0',
                       '--batch-size', '2')
    assert result.returncode == 1, result.stderr[-2000:]
    assert 'broken.jpg' in result.stderr
    drawn = sorted(p.name for p in (out / 'vis' / 'camera1').iterdir())
    assert drawn == sorted(p.name for p in good)
    assert cv2.imread(str(out / 'vis' / 'camera1' / good[0].name)).shape == (
        96, 96, 3)
    entries = json.loads((out / 'predictions.json').read_text())
    assert {e['file_name'] for e in entries} <= {str(folder / p.name)
                                                 for p in good}
    assert all(len(e['cls_probs']) == 6 and 'decision' in e
               for e in entries)
    assert 'total expected cost' in result.stdout
    assert not list(out.rglob('.*'))  # no temporary file left


def test_list_file_and_coco_readable(repo_root, quick_checkpoint,
                                     synthetic_set, tmp_path):
    good = sorted(synthetic_set['images'].glob('*.png'))[:2]
    listing = tmp_path / 'list.txt'
    listing.write_text('\n'.join(str(p) for p in good) + '\n')
    out = tmp_path / 'out'
    result = run_infer(repo_root, quick_checkpoint, listing, out)
    assert result.returncode == 0, result.stderr[-2000:]
    text = (out / 'predictions.json').read_text()
    entries = json.loads(text)
    assert text == json.dumps(entries)  # compact, no trailing newline
    gt = COCO(str(synthetic_set['train']))
    if entries:  # pycocotools reads the results format
        for entry in entries:
            entry['image_id'] = gt.getImgIds()[0]
        gt.loadRes(entries)
    assert len(list((out / 'vis').iterdir())) == 2


def test_missing_input_is_an_argument_error(repo_root, quick_checkpoint,
                                            tmp_path):
    result = run_infer(repo_root, quick_checkpoint, tmp_path / 'nowhere',
                       tmp_path / 'out')
    assert result.returncode == 2
    assert 'input not found' in result.stderr
