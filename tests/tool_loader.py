"""Load a script under tools/ as a module (tools/ is no package); shared by
the tool tests (not a test file)."""
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_tool(relative_path: str) -> ModuleType:
    """``tools/<relative_path>`` as a module, loaded once per session
    (registered in sys.modules: dataclasses look their module up)."""
    name = 'csdet_tool_' + relative_path.replace('/', '_')[:-3]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, REPO / 'tools' / relative_path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
