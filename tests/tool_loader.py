"""Import a command-line tool of this repository (a script under tools/ or
demo/, not a package module) to test its functions in-process."""
import importlib.util
import os.path as osp
import re
from types import ModuleType

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(path: str) -> ModuleType:
    """The module of the script at ``path`` (relative to the repository root
    or absolute), executed afresh on every call under a name derived from
    ``path``; it is not added to ``sys.modules``."""
    full_path = osp.join(REPO_ROOT, path)
    name = 'tool_' + re.sub(r'\W', '_', osp.relpath(full_path, REPO_ROOT))
    spec = importlib.util.spec_from_file_location(name, full_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
