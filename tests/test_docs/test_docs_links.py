"""Links between the docs lead somewhere: files exist, #anchors name a heading there, and
README.md links every page of docs/."""
import re
from pathlib import Path

import pytest

from .docs_blocks import DOC_FILES, REPO

LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
HEADING = re.compile(r'^#{1,6}\s+(.*?)\s*#*\s*$')


def _without_code(text: str) -> str:
    """The text outside fenced blocks and inline code (links there are not links)."""
    text = re.sub(r'^```.*?^```', '', text, flags=re.M | re.S)
    return re.sub(r'`[^`\n]*`', '', text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace('`', '')
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path: Path) -> set:
    text = re.sub(r'^```.*?^```', '', path.read_text(encoding='utf-8'), flags=re.M | re.S)
    return {slug(m.group(1)) for line in text.splitlines() if (m := HEADING.match(line))}


def local_links():
    found = []
    for path in DOC_FILES:
        for target in LINK.findall(_without_code(path.read_text(encoding='utf-8'))):
            if not re.match(r'[a-z]+://|mailto:', target):
                found.append((path, target))
    return found


LINKS = local_links()


def test_slug_follows_github():
    assert slug('`--cfg-options`: changing a config from the command line') == \
        '--cfg-options-changing-a-config-from-the-command-line'
    assert slug('Plot the training curves') == 'plot-the-training-curves'


@pytest.mark.parametrize('link', LINKS, ids=lambda link: f'{link[0].name}->{link[1]}')
def test_link_target_exists(link):
    path, target = link
    file_part, _, anchor = target.partition('#')
    dest = (path.parent / file_part).resolve() if file_part else path
    assert dest.exists(), f'{path.name} links to {target}: {dest} does not exist'
    if anchor and dest.suffix == '.md':
        assert anchor in anchors(dest), (
            f'{path.name} links to {target}: no heading with anchor #{anchor} in {dest.name}')


def test_readme_links_every_doc():
    linked = {(REPO / target.partition('#')[0]).resolve()
              for path, target in LINKS if path.name == 'README.md'}
    pages = sorted((REPO / 'docs').glob('*.md'))
    assert pages
    missing = [p.name for p in pages if p.resolve() not in linked]
    assert not missing, f'README.md does not link {missing}'
