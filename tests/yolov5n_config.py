"""The YOLOv5n model config with NEU-DET's 6 classes and random training
samples, shared by the tests that build a bare model (fusing,
channels_last, compile, the fuse hook)."""
from pathlib import Path

import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict
from mmengine.structures import InstanceData

BASE = Path(__file__).resolve().parents[1] / 'configs' / '_base_' / 'models'


def yolov5n_model_cfg(**test_cfg) -> ConfigDict:
    """``model`` of configs/_base_/models/yolov5n.py, 6 classes,
    ``test_cfg`` updated with the given values."""
    model = Config.fromfile(str(BASE / 'yolov5n.py')).model
    model.bbox_head.num_classes = 6
    model.test_cfg.update(test_cfg)
    return model


def random_samples(count: int, size: int, generator: torch.Generator,
                   boxes: int = 3) -> list:
    """``count`` DetDataSamples of a ``size`` x ``size`` input, each with
    ``boxes`` random boxes (corner in the first 5/8 of the image, sides
    size/16 .. size * 3/8) of the 6 classes."""
    result = []
    for _ in range(count):
        xy = torch.rand(boxes, 2, generator=generator) * size * 0.625
        wh = size / 16 + torch.rand(boxes, 2,
                                    generator=generator) * size * 0.3125
        sample = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            scale_factor=(1.0, 1.0), batch_input_shape=(size, size)))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat((xy, xy + wh), 1),
            labels=torch.randint(0, 6, (boxes, ), generator=generator))
        result.append(sample)
    return result


def losses_and_grads(models, images, samples) -> tuple:
    """One training forward + backward of each model on the same batch:
    (list of loss dicts, list of {parameter name: gradient})."""
    losses, grads = [], []
    for model in models:
        model.train()
        loss = model.loss(images, samples)
        sum(loss.values()).backward()
        losses.append(loss)
        grads.append({name: p.grad for name, p in model.named_parameters()})
    return losses, grads
