"""Every relative link of README.md and docs/*.md leads somewhere.

A link (``[text](target)``) or image (``![alt](target)``) whose target is
not a URL must name an existing file or folder, relative to the page, and
a ``#anchor`` (on its own: the page itself) must be the GitHub slug of a
heading of the target page. Links inside code blocks and code spans are
not links and are skipped.
"""
import glob
import os.path as osp
import re

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PAGES = [osp.join(REPO, 'README.md')] + sorted(
    glob.glob(osp.join(REPO, 'docs', '*.md')))

FENCE = re.compile(r'^([ \t]*)(```|~~~).*?^\1\2[ \t]*$', re.S | re.M)
CODE_SPAN = re.compile(r'(`+)(?:(?!\1).)+?\1', re.S)
# [text](target) and ![alt](target), with an optional "title".
LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?'
                  r'(?:\s+"[^"]*")?\s*\)')
HEADING = re.compile(r'^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$', re.M)
URL = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:')  # http:, https:, mailto:


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def prose(text):
    """The text outside fenced code blocks and code spans."""
    return CODE_SPAN.sub('', FENCE.sub('', text))


def slug(heading):
    """GitHub's anchor of a heading: markdown links keep their text, the
    rest lower-cased, characters other than letters, digits, ``_``, ``-``
    and spaces dropped, spaces turned into ``-``."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)
    text = re.sub(r'<[^>]+>', '', text).strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(text):
    """The anchors of a page's headings, duplicates numbered as GitHub
    does (``name``, ``name-1``, ``name-2``)."""
    found, seen = set(), {}
    # Headings in code blocks are not headings; code spans in headings
    # keep their text.
    for heading in HEADING.findall(FENCE.sub('', text)):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f'{base}-{count}')
        seen[base] = count + 1
    return found


def links(text):
    return LINK.findall(prose(text))


def broken_links(page):
    """``[(target, why)]`` for every relative link of ``page`` that does
    not resolve."""
    broken = []
    for target in links(read(page)):
        if URL.match(target):
            continue
        path, _, anchor = target.partition('#')
        resolved = osp.normpath(osp.join(osp.dirname(page), path)) \
            if path else page
        if not osp.exists(resolved):
            broken.append((target, 'no such file'))
        elif anchor:
            if not resolved.endswith('.md') or osp.isdir(resolved):
                broken.append((target, 'an anchor into a file that is '
                               'not a markdown page'))
            elif anchor not in anchors(read(resolved)):
                broken.append((target, f'no heading #{anchor} in '
                               f'{osp.relpath(resolved, REPO)}'))
    return broken


def test_pages_are_found():
    names = [osp.relpath(p, REPO) for p in PAGES]
    assert 'README.md' in names and len(names) > 1, names
    assert all(links(read(page)) for page in PAGES[:1])
    assert sum(len(links(read(page))) for page in PAGES) > len(PAGES)


@pytest.mark.parametrize('page', PAGES,
                         ids=[osp.relpath(p, REPO) for p in PAGES])
def test_relative_links_resolve(page):
    broken = broken_links(page)
    assert not broken, '\n'.join(f'{osp.relpath(page, REPO)}: {t}: {why}'
                                 for t, why in broken)


def test_slugs_are_githubs():
    assert slug('Detection: DSB for mmdet') == 'detection-dsb-for-mmdet'
    assert slug('`mmdsb.semantic_scale`') == 'mmdsbsemantic_scale'
    assert slug('As a package: `pip install .`, `mim install`') == \
        'as-a-package-pip-install--mim-install'
    assert slug('CIFAR-10/100-LT and the loss zoo') == \
        'cifar-10100-lt-and-the-loss-zoo'
    assert slug('1. Dataset report') == '1-dataset-report'
    assert anchors('# A\n## A\n```\n# B\n```\n### A\n') == {'a', 'a-1', 'a-2'}


def test_broken_links_are_found(tmp_path):
    """The check can fail: a missing file, a missing heading, a missing
    anchor on the page itself; links in code are skipped."""
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'other.md').write_text('# Other page\n## Part two\n')
    page = tmp_path / 'README.md'
    page.write_text(
        '# Title\n\n'
        '[ok](docs/other.md) [ok](docs/other.md#part-two) [ok](#title)\n'
        '![missing image](docs/figures/none.png)\n'
        '[bad anchor](docs/other.md#part-three) [bad](#nothing)\n'
        '[web](https://example.com/x.md#y) `[code](nowhere.md)`\n'
        '```\n[in a block](nowhere.md)\n```\n')
    assert broken_links(str(page)) == [
        ('docs/figures/none.png', 'no such file'),
        ('docs/other.md#part-three', 'no heading #part-three in '
         + osp.relpath(str(tmp_path / 'docs' / 'other.md'), REPO)),
        ('#nothing', 'no heading #nothing in '
         + osp.relpath(str(page), REPO)),
    ]
