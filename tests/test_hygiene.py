"""No tracked file names a folder of the machine it was written on.

Every file that git tracks is read: text files as text, and every ``.pth`` checkpoint's
pickle (``<archive>/data.pkl``) opcode by opcode with ``pickletools.genops`` (nothing is
unpickled), its string arguments searched. An absolute path of a home, work or temp folder
(``/root/``, ``/home/``, ``/work/``, ``/tmp/``, ``/Users/``, ``/var/folders/``,
``C:\\Users\\``) fails the test, except the few example paths of :data:`EXAMPLES` (and
this file, which names the patterns).
"""
import os.path as osp
import pickletools
import re
import subprocess
import zipfile
from typing import Iterator, List, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SELF = 'tests/test_hygiene.py'
MACHINE_PATH = re.compile(
    r'(?<![\w.~/$-])(?:/root|/home|/work|/tmp|/Users|/var/folders)/[^\s\'"`),;]*'
    r'|\b[A-Za-z]:[\\/]+Users[\\/][^\s\'"`),;]*')
# paths that name no real machine: example values in docs and tests
EXAMPLES = {
    '/home/me/': 'the example user of docs/pretrained.md and its test',
    '/tmp/show': "a config value that tests/test_apis/test_training.py sets and reads",
    '/tmp/mmseg122/': 'the default venv of make_mmseg_env.sh (MMSegmentation 1.2.2), the '
                      'interpreter that reference-data scripts name',
}


def tracked_files() -> List[str]:
    proc = subprocess.run(['git', 'ls-files', '-z'], cwd=REPO, capture_output=True,
                          check=False)
    assert proc.returncode == 0, ('the hygiene test reads the files git tracks; '
                                  f'`git ls-files` failed in {REPO}: {proc.stderr!r}')
    return [name for name in proc.stdout.decode().split('\0') if name]


def pickle_strings(path: str) -> Iterator[str]:
    """The string arguments of a torch zip checkpoint's data.pkl (not unpickled)."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith('data.pkl'))
        data = archive.read(name)
    for _, arg, _ in pickletools.genops(data):
        if isinstance(arg, str):
            yield arg
        elif isinstance(arg, bytes):
            yield arg.decode('latin1')


def _texts(name: str) -> Iterator[str]:
    path = osp.join(REPO, name)
    if not osp.isfile(path):  # deleted in the worktree, not yet in the index
        return
    if name.endswith('.pth'):
        yield from pickle_strings(path)
        return
    with open(path, 'rb') as f:
        data = f.read()
    if b'\0' not in data[:8192]:
        yield data.decode('utf-8', 'replace')


def machine_paths(text: str) -> List[str]:
    return [m.group(0) for m in MACHINE_PATH.finditer(text)
            if not any(m.group(0).startswith(example) for example in EXAMPLES)]


def test_the_pattern_finds_what_it_should():
    found = machine_paths("x = '/tmp/ceo/wd/iter_2.pth'; root='/work/steering/data', "
                          'C:\\Users\\ann\\ckpt.pth /home/me/.cache ok/tmp/rel '
                          'https://host/home/x ~/work/y $TMP/z')
    assert found == ['/tmp/ceo/wd/iter_2.pth', '/work/steering/data',
                     'C:\\Users\\ann\\ckpt.pth'], found


def test_no_tracked_file_holds_an_absolute_path_of_a_machine():
    files = tracked_files()
    assert any(name.endswith('.pth') for name in files)
    found: List[Tuple[str, str]] = []
    for name in files:
        if name == SELF:  # names the patterns and its own samples
            continue
        for text in _texts(name):
            found += [(name, path) for path in machine_paths(text)]
    assert not found, ('absolute paths of a home, work or temp folder (write relative '
                       f'paths, or add a true example to EXAMPLES): {found[:20]}')
