from .amp_optim_wrapper import (AmpYOLOv5OptimWrapper,  # noqa: F401
                                amp_optim_wrapper_type)
from .yolov5_optim_constructor import (  # noqa: F401
    YOLOv5OptimizerConstructor, YOLOv5OptimWrapper, nominal_batch_settings,
    set_nominal_batch)
