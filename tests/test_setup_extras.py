"""Every pip extra that the docs, the README, the tools and fcn_mm's messages name
(``pip install -e '.[deploy]'``, "the `deploy` extra") exists in setup.py's
``extras_require``; setup.py is read with ``ast``, never imported or run."""
import ast
import glob
import os.path as osp
import re
from typing import Dict, List, Set, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# where extras are named: docs, the README, fcn_mm's and the tools' strings, CI
SCANNED = ('*.md', 'docs/**/*.md', 'fcn_mm/**/*.py', 'tools/**/*.py', 'tools/**/*.sh',
           'configs/**/*.py', 'setup.py', '.ci/*')
_NAMES = r'[A-Za-z0-9][A-Za-z0-9_-]*(?:\s*,\s*[A-Za-z0-9][A-Za-z0-9_-]*)*'
_PATTERNS = (
    re.compile(rf'(?:\.|fcn_mm|fcn-mm)\[({_NAMES})\]'),   # .[deploy], fcn_mm[tests,deploy]
    re.compile(rf'`({_NAMES})` extras?\b'),                 # the `deploy` extra
)
# ``[tests]`` alone (setup.py's docstring), in a paragraph that says `pip install`
_BRACKETED = re.compile(rf'`\[({_NAMES})\]`')


def _module_lists(tree: ast.Module) -> Dict[str, ast.expr]:
    return {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def _evaluate(node: ast.expr, names: Dict[str, ast.expr]) -> List[str]:
    """A requirement list: list literals, module-level names and ``+``."""
    if isinstance(node, ast.Name):
        return _evaluate(names[node.id], names)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _evaluate(node.left, names) + _evaluate(node.right, names)
    return list(ast.literal_eval(node))


def setup_extras(setup_file: str) -> Dict[str, List[str]]:
    """extra -> requirements, from the ``extras_require`` of ``setup(...)`` in the file."""
    with open(setup_file, encoding='utf-8') as f:
        tree = ast.parse(f.read(), setup_file)
    names = _module_lists(tree)
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, 'id', getattr(node.func, 'attr', None)) == 'setup']
    assert len(calls) == 1, f'{setup_file}: expected one setup(...) call, found {len(calls)}'
    value = next((k.value for k in calls[0].keywords if k.arg == 'extras_require'), None)
    if value is None:
        return {}
    if isinstance(value, ast.Name):
        value = names[value.id]
    assert isinstance(value, ast.Dict), f'{setup_file}: extras_require is not a dict literal'
    return {ast.literal_eval(key): _evaluate(item, names)
            for key, item in zip(value.keys, value.values)}


def named_extras(text: str) -> Set[str]:
    """The extras a text names."""
    matches = [m for pattern in _PATTERNS for m in pattern.finditer(text)]
    for paragraph in re.split(r'\n\s*\n', text):
        if 'pip install' in paragraph:
            matches += list(_BRACKETED.finditer(paragraph))
    return {name.strip() for match in matches for name in match.group(1).split(',')}


def missing_extras(files: List[str], extras: Set[str]) -> List[Tuple[str, str]]:
    """(file, extra) for every extra a file names that is not in ``extras``."""
    missing = []
    for path in files:
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        missing += [(osp.relpath(path, REPO), name) for name in sorted(named_extras(text))
                    if name not in extras]
    return missing


def _scanned_files() -> List[str]:
    files = set()
    for pattern in SCANNED:
        files.update(p for p in glob.glob(osp.join(REPO, pattern), recursive=True)
                     if osp.isfile(p))
    return sorted(files)


def test_every_extra_named_in_docs_and_messages_exists():
    extras = setup_extras(osp.join(REPO, 'setup.py'))
    files = _scanned_files()
    assert any(f.endswith(osp.join('docs', 'deploy.md')) for f in files)
    named = set()
    for path in files:
        with open(path, encoding='utf-8', errors='replace') as f:
            named |= named_extras(f.read())
    # the extras the docs and the ImportError hints use today are among those found
    assert {'tests', 'deploy', 'tensorboard'} <= named, named
    assert missing_extras(files, set(extras)) == []


def test_the_deploy_extra_is_the_onnx_stack_and_tests_include_it():
    extras = setup_extras(osp.join(REPO, 'setup.py'))
    bare = {key: {re.split(r'[<>=!~ \[;]', req, maxsplit=1)[0] for req in reqs}
            for key, reqs in extras.items()}
    assert {'onnx', 'onnxruntime', 'onnxscript'} <= bare['deploy']
    # get_started.md: `[tests]` is the test tools plus every extra the tests exercise
    assert {'pytest', 'pytest-timeout', 'import-linter'} <= bare['tests']
    assert bare['deploy'] | bare['tensorboard'] <= bare['tests']


def test_a_doc_naming_a_missing_extra_is_found(tmp_path):
    doc = tmp_path / 'page.md'
    doc.write_text("Install:\n\n```bash\npip install -e '.[deploy,nosuch]'\n```\n"
                   'and the `absent` extra; `pip install fcn_mm[tests]`.\n\n'
                   '``pip install -e .`` (add ``[gone]`` for more).\n\n'
                   'Indexing ``[i, j]`` and ``[R, G, B]`` names no extra.\n')
    hint = tmp_path / 'hint.py'
    hint.write_text("raise ImportError(\"needs onnx: pip install -e \"\n"
                    "                  \"'.[onnx-tools]'\")\n")
    setup_file = tmp_path / 'setup.py'
    setup_file.write_text("from setuptools import setup\nBASE = ['onnx']\n"
                          "setup(name='x', extras_require={'deploy': BASE + ['onnxruntime'],"
                          " 'tests': ['pytest'] + BASE})\n")
    extras = setup_extras(str(setup_file))
    assert extras == {'deploy': ['onnx', 'onnxruntime'], 'tests': ['pytest', 'onnx']}
    found = missing_extras([str(doc), str(hint)], set(extras))
    assert [name for _, name in found] == ['absent', 'gone', 'nosuch', 'onnx-tools']
    assert found[0][0].endswith('page.md') and found[3][0].endswith('hint.py')
    # the repository's setup.py before the deploy extra existed: its docs fail the check
    setup_file.write_text("from setuptools import setup\n"
                          "setup(name='x', extras_require={'tests': []})\n")
    deploy_doc = osp.join(REPO, 'docs', 'deploy.md')
    assert ('docs/deploy.md', 'deploy') in missing_extras(
        [deploy_doc], set(setup_extras(str(setup_file))))
