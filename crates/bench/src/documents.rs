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
