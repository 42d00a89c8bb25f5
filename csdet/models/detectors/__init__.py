from .stacked_data_preprocessor import StackedDetDataPreprocessor  # noqa: F401
from .yolov5 import YOLOv5  # noqa: F401
