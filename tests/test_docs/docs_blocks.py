"""Find the fenced shell blocks of the docs, with their skip tags."""
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[2]
DOC_FILES = sorted([REPO / 'README.md', *(REPO / 'docs').glob('*.md')])
FENCE = re.compile(r'^```(\w*)\s*$')
SKIP = re.compile(r'<!--\s*skip:\s*([\w|, -]+?)\s*-->')
SHELL_LANGS = {'bash', 'shell', 'sh', 'console'}


@dataclass
class ShellBlock:
    path: Path
    line: int
    code: str
    skip: Optional[str]

    @property
    def id(self) -> str:
        return f'{self.path.name}:{self.line}'


def shell_blocks(path: Path) -> List[ShellBlock]:
    """Every ```bash block of a markdown file; ``skip`` is the tag of a
    ``<!-- skip: reason -->`` comment on the last non-blank line before the fence."""
    blocks, lines = [], path.read_text(encoding='utf-8').splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        lang, start = match.group(1), i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith('```'):
            body.append(lines[i])
            i += 1
        i += 1
        if lang not in SHELL_LANGS:
            continue
        before = next((ln for ln in reversed(lines[:start]) if ln.strip()), '')
        tag = SKIP.search(before)
        blocks.append(ShellBlock(path, start + 1, '\n'.join(body),
                                 tag.group(1) if tag else None))
    return blocks


def all_shell_blocks() -> List[ShellBlock]:
    return [block for path in DOC_FILES for block in shell_blocks(path)]


def commands(code: str) -> List[List[str]]:
    """Split a block into commands (joined continuation lines, split on && ; |)."""
    text = code.replace('\\\n', ' ')
    result = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        for part in re.split(r'&&|;|\|\|?', line):
            try:
                words = shlex.split(part)
            except ValueError:
                words = part.split()
            if words:
                result.append(words)
    return result


def tool_invocation(words: List[str]):
    """(tool script path, its argv) for a command that runs one of our tools, else None.

    ``python tools/train.py A B``, ``torchrun ... tools/train.py A``,
    ``bash tools/dist_train.sh CONFIG N ARGS`` (parsed as train.py CONFIG ARGS) and
    ``bash tools/dist_test.sh CONFIG CKPT N ARGS`` (as test.py CONFIG CKPT ARGS).
    """
    for i, word in enumerate(words):
        if word.startswith('tools/') and word.endswith('.py'):
            return REPO / word, words[i + 1:]
        if word == 'tools/dist_train.sh':
            rest = words[i + 1:]
            return REPO / 'tools/train.py', rest[:1] + rest[2:]
        if word == 'tools/dist_test.sh':
            rest = words[i + 1:]
            return REPO / 'tools/test.py', rest[:2] + rest[3:]
        if word == 'tools/slurm_train.sh':
            rest = words[i + 1:]  # PARTITION JOB_NAME CONFIG [WORK_DIR] [args]
            extra = rest[3:]
            if extra and not extra[0].startswith('-'):
                extra = ['--work-dir', extra[0]] + extra[1:]
            return REPO / 'tools/train.py', rest[2:3] + extra
        if word == 'demo/image_demo.py':
            return REPO / word, words[i + 1:]
    return None
