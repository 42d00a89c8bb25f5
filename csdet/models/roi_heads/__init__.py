from .cs_bbox_head import CSShared2FCBBoxHead  # noqa: F401
