#!/usr/bin/env python3
"""The book: built by mdBook, then checked as a reader meets it.

    book.py build MDBOOK      mdbook build book/, then the links mdBook cannot know
    book.py check             every link and image of the built book resolves
    book.py browse CHROMIUM   each chapter opened in headless Chromium: every image loads,
                              no page is empty; a screenshot of each into target/book-shots/

The book is built into target/book/, two folders below the repository's root as book/src/
is, so a chapter's relative links to crates/, results/ and CONTRACT.md resolve in the built
book as in the sources. mdBook turns every link to a `.md` file into one to `.html`, which is
right for its chapters and wrong for the repository's own pages (CONTRACT.md, a results
page): `build` points those back at the `.md` file they name.
"""

import html.parser
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILT = ROOT / "target" / "book"
SHOTS = ROOT / "target" / "book-shots"


def chapters():
    """The built chapters: one page a chapter of SUMMARY.md, in its order."""
    summary = (ROOT / "book" / "src" / "SUMMARY.md").read_text()
    names = re.findall(r"\]\(([^)]+)\.md\)", summary)
    return [BUILT / f"{name}.html" for name in names]


class Links(html.parser.HTMLParser):
    """Every href and src of a page, and whether it has an <img>."""

    def __init__(self):
        super().__init__()
        self.targets = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.targets.append((tag, value))


def local(target):
    """The file a relative link names, or None for a link elsewhere (a scheme, an anchor)."""
    if re.match(r"^[a-z]+:", target) or target.startswith("#") or target.startswith("/"):
        return None
    return target.split("#")[0].split("?")[0] or None


def build(mdbook):
    subprocess.run([mdbook, "build", str(ROOT / "book")], check=True)
    fixed = 0
    for page in BUILT.rglob("*.html"):
        text = page.read_text()

        def to_md(m):
            nonlocal fixed
            link = m.group(2)
            path = local(link)
            if path is None or not path.endswith(".html"):
                return m.group(0)
            if (page.parent / path).exists():
                return m.group(0)
            source = (page.parent / path).with_suffix(".md")
            if not source.exists():
                return m.group(0)
            fixed += 1
            return f'{m.group(1)}"{link.replace(".html", ".md", 1)}"'

        new = re.sub(r'(href=)"([^"]+)"', to_md, text)
        if new != text:
            page.write_text(new)
    print(f"book: built into {BUILT}; {fixed} links to the repository's own pages kept as .md")


def check():
    broken = []
    pages = sorted(BUILT.rglob("*.html"))
    if not pages:
        sys.exit(f"book: nothing built in {BUILT} (make book)")
    for page in pages:
        parser = Links()
        parser.feed(page.read_text())
        for tag, target in parser.targets:
            path = local(target)
            if path and not (page.parent / path).exists():
                broken.append(f"{page.relative_to(BUILT)}: <{tag}> {target}")
    missing = [c for c in chapters() if not c.exists()]
    for line in broken + [f"{c.relative_to(BUILT)}: the chapter was not built" for c in missing]:
        print(line)
    if broken or missing:
        sys.exit(f"book: {len(broken)} broken links or images, {len(missing)} chapters missing")
    print(f"book: {len(pages)} pages, every link and image resolves")


# A page that opens a chapter in a frame and writes, into its own DOM, what the chapter
# showed once loaded: how many images, how many failed to load, how much text. Chromium
# prints that DOM (--dump-dom); file:// frames are readable with --allow-file-access-from-files.
HARNESS = """<!doctype html><html><body><pre id="out">waiting</pre>
<iframe id="f" src="{src}" style="width:1200px;height:900px"></iframe>
<script>
document.getElementById('f').onload = function () {{
  var d = this.contentDocument, main = d.querySelector('main') || d.body;
  var imgs = Array.from(d.images);
  var settle = function () {{
    var bad = imgs.filter(function (i) {{ return !(i.complete && i.naturalWidth > 0); }});
    document.getElementById('out').textContent = JSON.stringify({{
      images: imgs.length,
      broken: bad.map(function (i) {{ return i.getAttribute('src'); }}),
      text: main.innerText.trim().length
    }});
  }};
  setTimeout(settle, 2000);
}};
</script></body></html>"""


def browse(chromium):
    SHOTS.mkdir(parents=True, exist_ok=True)
    failed = []
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
             "--virtual-time-budget=10000"]
    for page in chapters():
        with tempfile.NamedTemporaryFile("w", suffix=".html", dir=BUILT, delete=False) as h:
            h.write(HARNESS.format(src=page.name))
            harness = Path(h.name)
        try:
            dom = subprocess.run([chromium, *flags, "--dump-dom", harness.as_uri()],
                                 capture_output=True, text=True, timeout=120).stdout
        finally:
            harness.unlink()
        found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
        seen = found.group(1) if found else "nothing: the page did not load"
        try:
            facts = json.loads(seen.replace("&quot;", '"'))
        except ValueError:
            facts = None
        if not facts or facts["broken"] or facts["text"] < 200:
            failed.append(f"{page.name}: {seen}")
        shot = SHOTS / f"{page.stem}.png"
        subprocess.run([chromium, *flags, "--window-size=1200,2400", f"--screenshot={shot}",
                        page.as_uri()], capture_output=True, timeout=120)
        print(f"{page.name}: {seen} · {shot.relative_to(ROOT)}")
    if failed:
        sys.exit("book: in Chromium, " + "; ".join(failed))
    print(f"book: every chapter loads in Chromium with its images; screenshots in {SHOTS}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "build" and len(sys.argv) == 3:
        build(sys.argv[2])
    elif command == "check" and len(sys.argv) == 2:
        check()
    elif command == "browse" and len(sys.argv) == 3:
        browse(sys.argv[2])
    else:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: book.py build MDBOOK | check | browse CHROMIUM", file=sys.stderr)
        sys.exit(2)
