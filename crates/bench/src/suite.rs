//! The shape every sweep's results have (`brigade`, `disk`, `db`, `pools`, `serve`, `scale`,
//! `soak`): it runs its points — or with `--redraw` reads them back — into one JSON file,
//! `results/NAME/NAME.json`; draws its page and plots from that alone; and gives the README
//! its section from it. A suite's folder keeps only what is its own: what it runs (`run`)
//! and what its figures say (`draw`, `section`), and names them in one line:
//! `Suite::new("disk", run, draw, section)`.

use std::path::Path;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A page's slots: each slot's name in its template, and the text it is filled with.
pub type Slots = Vec<(&'static str, String)>;

/// A page's plots: each file's name, and its SVG.
pub type Plots = Vec<(String, String)>;

/// A suite of results: its name, what runs it, what draws its page and its README section.
pub struct Suite<O, R> {
    /// Its folder under results/ and its JSON's name.
    name: &'static str,
    run: fn(&O) -> anyhow::Result<R>,
    draw: fn(&Path, &R) -> anyhow::Result<()>,
    section: fn(&R) -> anyhow::Result<String>,
}

/// What a suite's command line says of where it writes (`--out`), and whether it only
/// redraws (`--redraw`).
pub trait Place {
    fn place(&self) -> (&Path, bool);
}

impl Place for crate::cli::Sweep {
    fn place(&self) -> (&Path, bool) {
        (&self.out, self.redraw)
    }
}

impl Place for crate::cli::Disk {
    fn place(&self) -> (&Path, bool) {
        self.sweep.place()
    }
}

impl Place for crate::cli::Serve {
    fn place(&self) -> (&Path, bool) {
        self.sweep.place()
    }
}

impl Place for crate::cli::Scale {
    fn place(&self) -> (&Path, bool) {
        (&self.out, self.redraw)
    }
}

impl Place for crate::cli::Soak {
    fn place(&self) -> (&Path, bool) {
        (&self.out, self.redraw)
    }
}

impl<O: Place, R: Serialize + DeserializeOwned> Suite<O, R> {
    pub const fn new(
        name: &'static str,
        run: fn(&O) -> anyhow::Result<R>,
        draw: fn(&Path, &R) -> anyhow::Result<()>,
        section: fn(&R) -> anyhow::Result<String>,
    ) -> Suite<O, R> {
        Suite { name, run, draw, section }
    }

    /// `bench NAME`: run the points and write the JSON — or with `--redraw` read it back —
    /// and draw the page from it.
    pub fn main(&self, o: &O) -> anyhow::Result<()> {
        let (out, redraw) = o.place();
        let json = out.join(format!("{}.json", self.name));
        let r: R = if redraw {
            crate::run::read_json(&json)?
        } else {
            let r = (self.run)(o)?;
            std::fs::create_dir_all(out).with_context(|| out.display().to_string())?;
            crate::run::write(&json, &crate::run::to_json(&r))?;
            r
        };
        (self.draw)(out, &r)
    }

    /// The README's section, from `results/NAME/NAME.json`.
    pub fn section(&self, results: &Path) -> anyhow::Result<String> {
        let json = results.join(self.name).join(format!("{}.json", self.name));
        (self.section)(&crate::run::read_json(&json)?)
    }
}

/// A suite's page, `out/README.md`: its plots written beside it, then `template` (`name`)
/// filled with `values` and the machine's `facts`.
pub fn write_page<F: AsRef<str>>(
    out: &Path,
    plots: impl IntoIterator<Item = (F, String)>,
    (name, template): (&str, &str),
    facts: &serde_json::Value,
    values: &[(&str, String)],
) -> anyhow::Result<()> {
    for (file, svg) in plots {
        crate::run::write(&out.join(file.as_ref()), &svg)?;
    }
    let facts = ("facts", crate::facts::markdown_of_json(facts));
    let values: Vec<(&str, String)> = values.iter().cloned().chain([facts]).collect();
    let page = fill((name, template), &values)?;
    crate::run::write(&out.join("README.md"), &page)
}

/// `template` (`name`) filled with `values`; a value no slot takes is left out.
pub fn fill((name, template): (&str, &str), values: &[(&str, String)]) -> anyhow::Result<String> {
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::template::fill(name, template, &values)
}
