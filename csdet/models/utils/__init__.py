"""Model helpers that are not registry components (weight conversion,
the inference copy)."""
from .inference_copy import inference_copy  # noqa: F401
from .ultralytics_reference import (ReferenceNotInstalledError,  # noqa: F401
                                    import_yolov5_reference,
                                    load_ultralytics_model)
from .yolov5_weight_mapping import (ConvertedWeights,  # noqa: F401
                                    YOLOv5LayoutError, convert_state_dict,
                                    drop_class_dependent, map_name)
