from .autoanchor_hook import YOLOv5AutoAnchorHook  # noqa: F401
from .fuse_conv_bn_hook import FuseConvBNHook  # noqa: F401
from .yolov5_ema_hook import YOLOv5EMAHook  # noqa: F401
from .yolov5_param_scheduler_hook import YOLOv5ParamSchedulerHook  # noqa: F401
from .loss_positives_hook import LossPositivesHook  # noqa: F401
