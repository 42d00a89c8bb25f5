"""The Ultralytics YOLOv5 reference for the tests that compare with it
(weight converter, YOLOv5 head CIoU).

``bash tools/setup_env.sh`` installs the PyPI package ``yolov5`` (see
requirements/reference.txt) without its dependencies into .venv/reference;
the ``yolov5_reference`` fixture appends that folder to ``sys.path`` (after
the venv, so it can never shadow torch or numpy) and imports the reference
offline. Tests that take it are skipped, with the reason, when the folder is
absent; a folder that is present but cannot be imported is an error.
"""
import logging
import os
import sys
from pathlib import Path

import pytest

REFERENCE_DIR = Path(os.environ.get(
    'CSDET_YOLOV5_REFERENCE',
    Path(__file__).resolve().parents[2] / '.venv' / 'reference'))


@pytest.fixture(scope='session')
def yolov5_reference(tmp_path_factory):
    """SimpleNamespace(yolo, general, loss, root) of the reference."""
    if not (REFERENCE_DIR / 'yolov5').is_dir():
        pytest.skip(f'YOLOv5 reference not installed in {REFERENCE_DIR} '
                    '(bash tools/setup_env.sh installs it; or set '
                    'CSDET_YOLOV5_REFERENCE)')
    if str(REFERENCE_DIR) not in sys.path:
        sys.path.append(str(REFERENCE_DIR))
    # Its settings folder goes to a temporary place, not the home folder.
    os.environ.setdefault('YOLOV5_CONFIG_DIR',
                          str(tmp_path_factory.mktemp('yolov5_config')))
    from csdet.models.utils import import_yolov5_reference
    reference = import_yolov5_reference()
    logging.getLogger('yolov5').setLevel(logging.WARNING)  # model tables
    return reference
