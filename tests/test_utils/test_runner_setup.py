"""csdet.utils.runner_setup.init_weights_quietly."""
import logging

import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModule

from csdet.utils.runner_setup import init_weights_quietly


class Tiny(BaseModule):

    def __init__(self):
        super().__init__(init_cfg=dict(type='Constant', layer='Linear',
                                       val=0.5, bias=0.0))
        self.fc = nn.Linear(2, 2)


def test_init_survives_a_closed_log_file(tmp_path):
    """logging.config.dictConfig (as importing Ultralytics' yolov5 does)
    closes every handler; mmengine would then write into a closed file."""
    logger = MMLogger.get_instance('csdet_closed_log_file_test',
                                   log_file=str(tmp_path / 'run.log'))
    file_handlers = [h for h in logger.handlers
                     if isinstance(h, logging.FileHandler)]
    assert file_handlers
    for handler in file_handlers:
        handler.close()
    model = Tiny()
    init_weights_quietly(model)
    assert float(model.fc.weight.mean()) == 0.5
    assert logger.handlers.count(file_handlers[0]) == 1  # put back
    assert logger.level == MMLogger.get_current_instance().level
