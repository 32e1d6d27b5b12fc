//! `make readme`: the result sections of the top-level README, generated from the JSON in
//! `results/` and written between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers.
//! `make bench`, `bench-http`, `bench-cpu` and `bench-scale` run it at their end, so the
//! README never shows a figure by hand (`bench-quick` writes only to results/tmp/).

use std::path::Path;

use anyhow::Context;

use crate::cli::Readme;

/// Replace the text between `<!-- name:start -->` and `<!-- name:end -->`.
pub fn replace_section(text: &str, name: &str, content: &str) -> anyhow::Result<String> {
    let (start, end) = (format!("<!-- {name}:start -->"), format!("<!-- {name}:end -->"));
    let (Some(a), Some(b)) = (text.find(&start), text.find(&end)) else {
        return Err(anyhow::anyhow!("README.md has no {start} … {end} markers"));
    };
    Ok(format!("{}{start}\n{content}{}", &text[..a], &text[b..]))
}

pub fn readme(options: &Readme) -> anyhow::Result<()> {
    let (path, results) = (options.readme.as_path(), options.results.as_path());
    let mut text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let mut stale = Vec::new();
    for (name, write) in crate::SECTIONS {
        match write(results) {
            Ok(content) => {
                let new = replace_section(&text, name, &content)?;
                if new != text {
                    stale.push(name);
                }
                text = new;
            }
            Err(e) => eprintln!("README section {name} left as it was: {e}"),
        }
    }
    // Which results are older than the code: said, never a failure (`stale`).
    let root = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    for s in crate::stale::report(root, results) {
        println!(
            "{}: measured {}, before {} commits to the code it measures (`{}` renews it)",
            s.folder, s.measured, s.commits_since, s.renew
        );
    }
    if !options.check {
        return std::fs::write(path, text).with_context(|| path.display().to_string());
    }
    let drifts = crate::drift::check(path, results)?;
    for d in &drifts {
        println!("{}:{}: {} is in no result (results/)", d.file, d.line, d.figure);
    }
    for name in &stale {
        println!("{}: the {name} section is not what results/ gives (make readme)", path.display());
    }
    if drifts.is_empty() && stale.is_empty() {
        println!("{}: every figure is in results/, every section up to date", path.display());
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
        assert!(replace_section(text, "cpu", "x").is_err());
    }
}
