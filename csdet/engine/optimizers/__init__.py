from .yolov5_optim_constructor import (  # noqa: F401
    YOLOv5OptimizerConstructor, YOLOv5OptimWrapper, nominal_batch_settings,
    set_nominal_batch)
