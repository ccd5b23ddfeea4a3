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
