"""The YOLOv5n model config with NEU-DET's 6 classes, shared by the tests
that build a bare model (fusing, channels_last, the fuse hook)."""
from pathlib import Path

from mmengine.config import Config, ConfigDict

BASE = Path(__file__).resolve().parents[1] / 'configs' / '_base_' / 'models'


def yolov5n_model_cfg(**test_cfg) -> ConfigDict:
    """``model`` of configs/_base_/models/yolov5n.py, 6 classes,
    ``test_cfg`` updated with the given values."""
    model = Config.fromfile(str(BASE / 'yolov5n.py')).model
    model.bbox_head.num_classes = 6
    model.test_cfg.update(test_cfg)
    return model
