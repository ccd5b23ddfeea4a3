"""Every shell command in the documentation must run as written.

Commands that are cheap on CPU are executed by the end-to-end tests and by CI
(`make demo`, `make test`, the synthetic train/test runs). This test checks the
rest as far as a machine without GPUs and real data can: every tool and config
a command names exists, and every ``tools/*.py`` command line parses with the
tool's own argument parser (the shell wrappers are checked against
``tools/train.py`` / ``tools/test.py``'s parsers).
"""
import glob
import os.path as osp
import re
import shlex
import sys
from typing import Iterator, List, Tuple
from unittest import mock

import pytest
from tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOC_FILES = sorted(
    [osp.join(REPO, 'README.md'), osp.join(REPO, 'CONTRIBUTING.md')] +
    glob.glob(osp.join(REPO, 'docs', '*.md')) +
    glob.glob(osp.join(REPO, 'configs', '**', 'README.md'), recursive=True))
# Commands that are not ours to check (package managers, shell built-ins, ...).
EXTERNAL = {'pip', 'mim', 'source', 'cd', 'ln', 'mkdir', 'export', 'git', 'srun',
            'sbatch', 'tensorboard', 'ls', 'cat', 'rm', 'cp', 'wget', 'tar', 'unzip'}
# Docs whose commands run in another folder than the checkout, which they call $MMMTL.
DOC_CWD = {'docs/own_project.md': 'docs/examples/own_project'}
CHECKOUT_VAR = '$MMMTL/'
SHELL_WRAPPERS = {  # script -> (python tool, number of positional args)
    'tools/dist_train.sh': ('tools/train.py', 2),
    'tools/dist_test.sh': ('tools/test.py', 3),
    'tools/slurm_train.sh': ('tools/train.py', 3),
    'tools/slurm_test.sh': ('tools/test.py', 4),
}


def iter_commands() -> Iterator[Tuple[str, str]]:
    for path in DOC_FILES:
        text = open(path, encoding='utf-8').read()
        for block in re.findall(r'```(?:bash|shell|sh)\n(.*?)```', text, flags=re.S):
            joined = block.replace('\\\n', ' ')
            for line in joined.splitlines():
                line = line.split(' #')[0].strip()
                if line and not line.startswith('#'):
                    yield osp.relpath(path, REPO), line


def strip_env(words: List[str]) -> List[str]:
    while words and re.match(r'^[A-Z_][A-Z0-9_]*=', words[0]):
        words = words[1:]
    return words


def check_python_tool(tool: str, args: List[str], where: str) -> None:
    assert osp.isfile(osp.join(REPO, tool)), f'{where}: {tool} does not exist'
    cwd = osp.join(REPO, DOC_CWD.get(where, ''))
    for arg in args:
        if arg.startswith('configs/') and arg.endswith('.py'):
            assert osp.isfile(osp.join(cwd, arg)), f'{where}: {arg} does not exist'
    module = load_tool(tool)
    parse = getattr(module, 'parse_args', None)
    assert parse is not None, f'{where}: {tool} has no parse_args()'
    with mock.patch.object(sys, 'argv', [tool] + args):
        try:
            parse()
        except SystemExit as exc:  # argparse error, or --help
            assert exc.code == 0, f'{where}: `{tool} {" ".join(args)}` does not parse'


COMMANDS = list(iter_commands())


def test_docs_have_commands():
    assert len(COMMANDS) > 20


@pytest.mark.parametrize('where,command', COMMANDS,
                         ids=[f'{w}:{c[:60]}' for w, c in COMMANDS])
def test_doc_command(where, command):
    words = strip_env(shlex.split(command))
    if not words:
        return
    if where in DOC_CWD:  # tools are called by their path in the checkout
        words = [w[len(CHECKOUT_VAR):] if w.startswith(CHECKOUT_VAR) else w for w in words]
    program = osp.basename(words[0])
    if program in EXTERNAL:
        return
    if program == 'make':
        makefile = open(osp.join(REPO, 'Makefile')).read()
        for target in words[1:]:
            assert re.search(rf'^{re.escape(target)}:', makefile, re.M), \
                f'{where}: make target {target!r} does not exist'
        return
    if program == 'bash':
        script = words[1]
        assert osp.isfile(osp.join(REPO, script)), f'{where}: {script} does not exist'
        if script in SHELL_WRAPPERS:
            tool, num_positional = SHELL_WRAPPERS[script]
            positional = words[2:2 + num_positional]
            rest = words[2 + num_positional:]
            configs = [p for p in positional if p.endswith('.py')]
            # the GPU count of dist_*.sh is not an argument of the python tool
            tool_positional = [p for p in positional if p.endswith(('.py', '.pth'))]
            assert configs, f'{where}: no config in `{command}`'
            check_python_tool(tool, tool_positional + rest, where)
        return
    if program.startswith('python') or program == 'pytest':
        args = words[1:]
        if args[:1] == ['-m']:
            assert args[1] in ('pytest', 'pip', 'mmmtl'), f'{where}: python -m {args[1]}'
            return
        if args[:1] == ['-c']:
            return
        check_python_tool(args[0], args[1:], where)
        return
    pytest.fail(f'{where}: unknown command `{command}`: add it to the test')


# --- Every path the docs name exists -------------------------------------------
# Folders of the checkout: a path starting with one of them must exist. Other paths
# (work_dirs/, data/, outputs/, pretrain/) are what a run writes or a user provides.
REPO_FOLDERS = ('configs', 'tools', 'docs', 'demo', 'mmmtl', 'tests', 'requirements')
PATH = re.compile(r'(?<![\w./$<>-])(?:\$MMMTL/)?((?:%s)/[\w./<>{},*-]*[\w>}*/])' %
                  '|'.join(REPO_FOLDERS))
# `name.py` in a config README: a config of that folder (or of a folder below it).
BARE_CONFIG = re.compile(r"`([\w<>{},*/-]+\.py)`")
LINK = re.compile(r'\]\(([^()\s#]+)(?:#[^()\s]*)?\)')
# The module docstrings of the tools and the demo state commands too.
DOCSTRING_FILES = sorted(glob.glob(osp.join(REPO, 'tools', '**', '*.py'), recursive=True) +
                         glob.glob(osp.join(REPO, 'demo', '*.py')))


def expand(pattern: str) -> List[str]:
    """``a_{x,y}.py`` -> [``a_x.py``, ``a_y.py``] (shell brace expansion)."""
    match = re.search(r'\{([^{}]*)\}', pattern)
    if not match:
        return [pattern]
    return [expanded for choice in match.group(1).split(',')
            for expanded in expand(pattern[:match.start()] + choice + pattern[match.end():])]


def resolves(pattern: str, folder: str, recursive: bool = False) -> bool:
    """``pattern`` (a path, or one with ``<placeholder>`` / ``*`` parts) names at least
    one file or folder under ``folder`` (or under a sub-folder if ``recursive``)."""
    if '<' not in pattern and '*' not in pattern and not recursive:
        return osp.exists(osp.join(folder, pattern))
    # a placeholder is one word of a name: letters, digits, '-' and '.', never '_' or '/'
    regex = re.escape(pattern).replace(r'\*', '[^/]*')
    regex = re.sub(r'<[^<>]*>', '[A-Za-z0-9.-]+', regex.replace(r'\<', '<').replace(r'\>', '>'))
    candidates = glob.glob(osp.join(folder, '**', '*') if recursive or '/' in pattern else
                           osp.join(folder, '*'), recursive=True)
    rel = [osp.relpath(path, folder) for path in candidates]
    return any(re.fullmatch(r'(.*/)?' + regex if recursive else regex, path.rstrip('/'))
               for path in rel)


def named_paths(path: str) -> Iterator[Tuple[str, str, bool]]:
    """(pattern, folder it is relative to, recursive) for every path ``path`` names."""
    text = open(path, encoding='utf-8').read()
    where = osp.relpath(path, REPO)
    if path.endswith('.py'):
        text = re.match(r'\s*("""|\'\'\')(.*?)\1', text, re.S)
        text = text.group(2) if text else ''
    # a doc whose commands run elsewhere names that folder's files and the checkout's
    folders = [osp.join(REPO, DOC_CWD[where]), REPO] if where in DOC_CWD else [REPO]
    for match in PATH.finditer(text):
        yield match.group(1), folders, False
    if path.endswith('.md'):
        for match in LINK.finditer(text):
            if '://' not in match.group(1) and not match.group(1).startswith('mailto:'):
                yield match.group(1), [osp.dirname(path)], False
    if re.match(r'configs/.*README\.md$', where):
        for match in BARE_CONFIG.finditer(text):
            if not match.group(1).startswith(tuple(f + '/' for f in REPO_FOLDERS)):
                yield match.group(1), [osp.dirname(path)], True


def missing_paths(path: str) -> List[str]:
    missing = []
    for pattern, folders, recursive in named_paths(path):
        for one in expand(pattern):
            if not any(resolves(one, folder, recursive) for folder in folders):
                missing.append(one if one == pattern else f'{one} (from {pattern})')
    return missing


@pytest.mark.parametrize('path', DOC_FILES + DOCSTRING_FILES,
                         ids=lambda path: osp.relpath(path, REPO))
def test_named_paths_exist(path):
    missing = missing_paths(path)
    assert not missing, (f'{osp.relpath(path, REPO)} names paths that do not exist: '
                         + ', '.join(dict.fromkeys(missing)))


def test_stale_path_is_caught(tmp_path):
    doc = tmp_path / 'stale.md'
    doc.write_text('Train `configs/mtl/<backbone>_nyud_<task>.py` or '
                   '`configs/mtl/mtl_swinT_40k_nyud-425x560.py`; see [the zoo](model_zoo.md) '
                   'and `demo/demo.png`.\n')
    assert sorted(missing_paths(str(doc))) == ['configs/mtl/<backbone>_nyud_<task>.py',
                                               'demo/demo.png', 'model_zoo.md']
    assert not missing_paths(osp.join(REPO, 'docs', 'model_zoo.md'))


# --- Config files the docs show in full are those files ------------------------
def shown_configs() -> List[Tuple[str, str, str]]:
    """(doc, config path, block) for every python block whose first line names a config."""
    shown = []
    for path in DOC_FILES:
        text = open(path, encoding='utf-8').read()
        for block in re.findall(r'```python\n(.*?)```', text, flags=re.S):
            first = block.splitlines()[0]
            if re.fullmatch(r'# configs/\S+\.py', first):
                shown.append((osp.relpath(path, REPO), first[2:], block))
    return shown


def test_docs_show_config_files():
    assert {config for _, config, _ in shown_configs()} >= {
        'configs/kdam/kdam_swinL-r50_40k_nyud-425x560.py',
        'configs/kdam/kdam_swinL-swinB224_40k_nyud-425x560.py'}


@pytest.mark.parametrize('where,config,block', shown_configs(),
                         ids=[f'{w}:{c}' for w, c, _ in shown_configs()])
def test_shown_config_is_the_file(where, config, block):
    assert osp.isfile(osp.join(REPO, config)), f'{where}: {config} does not exist'
    body = block.split('\n', 1)[1]
    assert open(osp.join(REPO, config)).read() == body, (
        f'{where} shows {config} with another content than the file')
