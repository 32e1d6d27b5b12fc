//! `make readme`: the result sections of the README and of the book's chapters, generated
//! from the JSON in `results/` and written between `<!-- NAME:start -->` and
//! `<!-- NAME:end -->` markers, in every document that has them. `make bench` and each
//! `make bench-NAME` run it at their end, so no page shows a figure by hand (`bench-quick`
//! writes only to results/tmp/).
//!
//! The README's map of the book's questions is made the same way, from the book's own list of
//! chapters (`documents::chapters`): a chapter is added to SUMMARY.md alone.
//!
//! A section is made once, with links relative to the repository's root, as the README reads
//! them; a chapter of the book, two folders down (`book/src/`), gets the same links with
//! `../../` before each.

use anyhow::Context;

use crate::cli::Readme;

/// Replace the text between `<!-- name:start -->` and `<!-- name:end -->`; `None` if the
/// document has no such markers.
pub fn replace_section(text: &str, name: &str, content: &str) -> Option<String> {
    let (start, end) = (format!("<!-- {name}:start -->"), format!("<!-- {name}:end -->"));
    let (a, b) = (text.find(&start)?, text.find(&end)?);
    Some(format!("{}{start}\n{content}{}", &text[..a], &text[b..]))
}

/// `content`'s relative links and images, as a document `depth` folders below the root
/// reads them. Links with a scheme, to an anchor or from the root are left alone, and so is
/// code.
pub fn relocate_links(content: &str, depth: usize) -> String {
    if depth == 0 {
        return content.to_string();
    }
    let up = "../".repeat(depth);
    let mut out = Vec::new();
    let mut code = false;
    for line in content.split('\n') {
        if line.starts_with("```") {
            code = !code;
        }
        if code {
            out.push(line.to_string());
            continue;
        }
        let mut moved = String::new();
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let (before, target) = rest.split_at(at + 2);
            moved.push_str(before);
            let absolute =
                ["http:", "https:", "mailto:", "#", "/"].iter().any(|p| target.starts_with(p));
            if !absolute && !target.starts_with(')') {
                moved.push_str(&up);
            }
            rest = target;
        }
        moved.push_str(rest);
        out.push(moved);
    }
    out.join("\n")
}

pub fn readme(options: &Readme) -> anyhow::Result<()> {
    let (readme, results) = (options.readme.as_path(), options.results.as_path());
    let mut docs = Vec::new();
    for (path, depth) in crate::documents::all(readme) {
        let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
        docs.push((path, depth, text));
    }
    let mut stale = Vec::new();
    let root = crate::documents::root(readme);
    // The README's map of the book first: from SUMMARY.md and each chapter's question.
    let map = ("map", crate::documents::map_section(root));
    let sections = crate::SECTIONS.iter().map(|(name, write)| (*name, write(results)));
    for (name, content) in std::iter::once(map).chain(sections) {
        let content = match content {
            Ok(content) => content,
            Err(e) => {
                eprintln!("section {name} left as it was: {e}");
                continue;
            }
        };
        let mut placed = false;
        for (path, depth, text) in &mut docs {
            let Some(new) = replace_section(text, name, &relocate_links(&content, *depth)) else {
                continue;
            };
            placed = true;
            if new != *text {
                stale.push(format!("{}: the {name} section", path.display()));
            }
            *text = new;
        }
        if !placed {
            anyhow::bail!(
                "no document has the markers <!-- {name}:start --> … <!-- {name}:end -->"
            );
        }
    }
    // Which results are older than the code: said, never a failure (`stale`).
    for s in crate::stale::report(root, results) {
        println!(
            "{}: measured {}, before {} commits to the code it measures (`{}` renews it)",
            s.folder,
            s.measured.describe(),
            s.commits_since,
            s.renew
        );
    }
    if !options.check {
        for (path, _, text) in &docs {
            std::fs::write(path, text).with_context(|| path.display().to_string())?;
        }
        return Ok(());
    }
    let drifts = crate::drift::check(readme, results)?;
    for d in &drifts {
        println!("{}:{}: {}", d.file, d.line, d.what);
    }
    for section in &stale {
        println!("{section} is not what results/ gives (make readme)");
    }
    if drifts.is_empty() && stale.is_empty() {
        println!("every figure is in results/, every section up to date");
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "{} figures in no result, {} stale sections",
            drifts.len(),
            stale.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_between_its_markers_only() {
        let text = "intro\n<!-- seed:start -->\nold\n<!-- seed:end -->\nrest\n";
        let new = replace_section(text, "seed", "| new |\n").unwrap();
        assert_eq!(new, "intro\n<!-- seed:start -->\n| new |\n<!-- seed:end -->\nrest\n");
        assert!(replace_section(text, "cpu", "x").is_none());
    }

    #[test]
    fn a_chapter_reads_the_roots_links_two_folders_up() {
        let content = "![plot](results/scale/a.svg) [page](results/scale/README.md), \
                       [site](https://x.org) [here](#top) []()\n```\n[not](a link)\n```";
        assert_eq!(
            relocate_links(content, 2),
            "![plot](../../results/scale/a.svg) [page](../../results/scale/README.md), \
             [site](https://x.org) [here](#top) []()\n```\n[not](a link)\n```"
        );
        assert_eq!(relocate_links(content, 0), content);
    }
}
