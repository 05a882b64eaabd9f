"""The README and docs/ hold together: the example spec is valid and is the one the README shows,
every relative link and anchor leads somewhere, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kinesis_pipelines.spec.validation import validate_pipeline_file

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
EXAMPLE = DOCS / "examples" / "pipeline.yaml"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def without_code(text: str) -> str:
    """The Markdown outside fenced code blocks and inline code."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to
    hyphens, and -1, -2, ... on repeats."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_the_example_spec_is_valid() -> None:
    spec = validate_pipeline_file(EXAMPLE)
    assert spec.name == "orders"
    assert spec.credentials.source == "assume_role"
    assert spec.supervision.restart.budget == 5 and spec.rebalancing.max_shards == 16


def test_the_readme_shows_the_example_spec_as_it_is() -> None:
    blocks = re.findall(r"^```yaml\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    example = "".join(line for line in EXAMPLE.read_text().splitlines(True) if not line.startswith("#"))
    assert example in blocks, "the README's spec example differs from docs/examples/pipeline.yaml"


def broken_links(page: Path) -> list[str]:
    """Relative links of a page (outside code) whose file or heading anchor does not exist."""
    broken: list[str] = []
    for target in LINK.findall(without_code(page.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        path_part, _, fragment = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target} (no heading with that anchor)")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_leads_somewhere(page: Path) -> None:
    assert broken_links(page) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## What `./dev` installs\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n[ok](#title) [ok](other.md#what-dev-installs) [gone](missing.md) "
        "[bad](other.md#nowhere) `[in code](skipped.md)` [web](https://example.com)\n"
    )
    assert broken_links(page) == [
        "missing.md (no such file)",
        "other.md#nowhere (no heading with that anchor)",
    ]


def test_the_readme_is_short() -> None:
    lines = README.read_text().count("\n")
    assert lines <= 200, f"README.md has {lines} lines; move detail to docs/ and link it"
