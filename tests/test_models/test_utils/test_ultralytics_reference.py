"""The reference import must leave the process's log files writable."""
import logging
import logging.config

from mmengine.logging import MMLogger

from csdet.models.utils.ultralytics_reference import _keep_log_files_open


def test_dict_config_inside_keeps_log_files_open(tmp_path):
    """yolov5's import runs logging.config.dictConfig, which closes every
    handler (mmengine then writes into a closed file)."""
    logger = MMLogger.get_instance('csdet_reference_log_test',
                                   log_file=str(tmp_path / 'run.log'))
    handler = next(h for h in logger.handlers
                   if isinstance(h, logging.FileHandler))
    with _keep_log_files_open():
        logging.config.dictConfig(
            dict(version=1, disable_existing_loggers=False))
    handler.stream.write('still open\n')
    handler.flush()
    assert 'still open' in (tmp_path / 'run.log').read_text()


def test_dict_config_closes_them_without_the_guard(tmp_path):
    logger = MMLogger.get_instance('csdet_reference_log_test_2',
                                   log_file=str(tmp_path / 'run.log'))
    handler = next(h for h in logger.handlers
                   if isinstance(h, logging.FileHandler))
    logging.config.dictConfig(dict(version=1, disable_existing_loggers=False))
    assert handler.stream is None
