//! The documents written for readers: the README at the root, and the book's chapters in
//! `book/src/`. `bench readme` fills their generated sections; `bench readme --check` holds
//! their prose to results/.

use std::path::{Path, PathBuf};

/// The repository's root: the folder the README is in.
pub fn root(readme: &Path) -> &Path {
    readme.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// The documents with generated sections: the README, then the book's chapters, each with
/// how many folders below the root it is.
pub fn all(readme: &Path) -> Vec<(PathBuf, usize)> {
    let root = root(readme);
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(root.join("book").join("src"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    let mut docs = vec![(readme.to_path_buf(), 0)];
    docs.extend(chapters.into_iter().map(|p| (p, 2)));
    docs
}

/// A chapter of the book, as the README's map of questions shows it.
#[derive(Debug, PartialEq)]
pub struct Chapter {
    /// Its name in the book's contents (SUMMARY.md).
    pub title: String,
    /// Its file, relative to `book/src`, with the anchor its question points to, if any.
    pub target: String,
    /// The question it answers: its `<!-- question: … -->` line.
    pub question: String,
}

/// The chapters that answer a question, in the book's order: SUMMARY.md's list is the one
/// list of chapters, and each chapter names its own question, on a line of its own
/// (`<!-- question: Is "CPU × 2" the right pool size? -->`, or `<!-- question #anchor: … -->`
/// for a part of the chapter). A chapter that names none is left out of the map.
pub fn chapters(root: &Path) -> anyhow::Result<Vec<Chapter>> {
    let book = root.join("book").join("src");
    let summary = std::fs::read_to_string(book.join("SUMMARY.md"))?;
    let mut chapters = Vec::new();
    for line in summary.lines() {
        let Some((title, file)) = line
            .trim_start()
            .strip_prefix("- [")
            .and_then(|rest| rest.split_once("]("))
            .and_then(|(title, rest)| Some((title, rest.strip_suffix(')')?)))
        else {
            continue;
        };
        let text = std::fs::read_to_string(book.join(file))
            .map_err(|e| anyhow::anyhow!("book/src/{file}, in SUMMARY.md: {e}"))?;
        let asked = text.lines().find_map(|l| l.trim().strip_prefix("<!-- question"));
        let Some(asked) = asked.and_then(|a| a.strip_suffix("-->")) else {
            continue;
        };
        let (anchor, question) = asked.split_once(':').unwrap_or(("", asked));
        chapters.push(Chapter {
            title: title.to_string(),
            target: format!("{file}{}", anchor.trim()),
            question: question.trim().to_string(),
        });
    }
    Ok(chapters)
}

/// The README's map: a question a row, and the chapter that answers it.
pub fn map_section(root: &Path) -> anyhow::Result<String> {
    let mut map = String::from("| question | chapter |\n|---|---|\n");
    for c in chapters(root)? {
        map.push_str(&format!("| {} | [{}](book/src/{}) |\n", c.question, c.title, c.target));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_follows_summary_and_each_chapters_own_question() {
        let root = std::env::temp_dir().join(format!("conclab-map-{}", std::process::id()));
        let book = root.join("book").join("src");
        std::fs::create_dir_all(&book).unwrap();
        let summary = "# Summary\n\n[Introduction](intro.md)\n\n- [Pools](pools.md)\n\
                       - [Reading](reading.md)\n- [Contract](contract.md)\n";
        std::fs::write(book.join("SUMMARY.md"), summary).unwrap();
        std::fs::write(book.join("intro.md"), "# Hi\n<!-- question: not listed -->\n").unwrap();
        std::fs::write(book.join("pools.md"), "# Pools\n<!-- question: Is CPU × 2 right? -->\n")
            .unwrap();
        let reading = "# Reading\n\n<!-- question #flames: Where does the CPU go? -->\n";
        std::fs::write(book.join("reading.md"), reading).unwrap();
        std::fs::write(book.join("contract.md"), "# The contract\n").unwrap();
        let map = map_section(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            map,
            "| question | chapter |\n|---|---|\n\
             | Is CPU × 2 right? | [Pools](book/src/pools.md) |\n\
             | Where does the CPU go? | [Reading](book/src/reading.md#flames) |\n"
        );
    }
}
