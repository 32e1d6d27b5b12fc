//! The fixed prose of every page lives in Markdown files — a sweep's in its own folder
//! (`page.md`, `readme.md`), the timed tables' in `templates/*.md` — where it reads as Markdown; the
//! code only fills its `{{slot}}`s with what was measured.

/// `template` with every `{{name}}` replaced by its value; an error if a slot is left over,
/// so that a page never goes out with a hole in it.
pub fn fill(name: &str, template: &str, values: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut text = template.to_string();
    for (slot, value) in values {
        text = text.replace(&format!("{{{{{slot}}}}}"), value);
    }
    match text.find("{{") {
        Some(at) => {
            let slot: String = text[at..].chars().take_while(|&c| c != '}').collect();
            Err(anyhow::anyhow!("template {name} leaves {slot}}}}} unfilled"))
        }
        None => Ok(text),
    }
}

/// The templates, compiled in.
pub const SEED: &str = include_str!("../templates/seed.md");
pub const HTTP: &str = include_str!("../templates/http.md");
pub const CPU: &str = include_str!("../templates/cpu.md");
pub const SYSCALLS: &str = include_str!("../templates/syscalls.md");
pub const README_SEED: &str = include_str!("../templates/readme-seed.md");
pub const README_HTTP: &str = include_str!("../templates/readme-http.md");
pub const README_CPU: &str = include_str!("../templates/readme-cpu.md");
pub const README_LOOPS: &str = include_str!("../templates/readme-loops.md");
pub const README_CLAIM: &str = include_str!("../templates/readme-claim.md");

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn every_slot_is_filled_or_named() {
        assert_eq!(fill("t", "a {{x}} b {{x}}", &[("x", "1")]).unwrap(), "a 1 b 1");
        let err = fill("t", "a {{x}} {{y}}", &[("x", "1")]).unwrap_err();
        assert!(err.to_string().contains("{{y}}"), "{err}");
    }
}
