//! The shape every sweep's results have (`brigade`, `disk`, `db`, `pools`, `serve`, `scale`,
//! `soak`): it runs its points — or with `--redraw` reads them back — into one JSON file,
//! `results/NAME/NAME.json`; draws its page and plots from that alone; and gives the README
//! its section from it. A suite's folder keeps only what is its own: what it runs (`run`)
//! and what its figures say (`tables::TEMPLATES`: its page's and section's templates, and
//! the slots and plots it fills them with), and names them in one line:
//! `Suite::new("disk", run, tables::TEMPLATES)`.

use std::path::Path;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A page's slots: each slot's name in its template, and the text it is filled with.
pub type Slots = Vec<(&'static str, String)>;

/// A page's plots: each file's name, and its SVG.
pub type Plots = Vec<(String, String)>;

/// A suite of results: its name, what runs it, and what shows them.
pub struct Suite<O, R> {
    /// Its folder under results/ and its JSON's name.
    name: &'static str,
    run: fn(&O) -> anyhow::Result<R>,
    show: Show<R>,
}

/// How a suite shows its results.
enum Show<R> {
    /// Its templates, filled.
    Templates(Templates<R>),
    /// Its own way: what draws its page into a folder, and what writes its README section.
    Own { draw: fn(&Path, &R) -> anyhow::Result<()>, section: fn(&R) -> anyhow::Result<String> },
}

/// A suite's page, `results/NAME/README.md`, and its README section: two templates filled
/// with the same slots, the page's plots written beside it.
pub struct Templates<R> {
    page: &'static str,
    readme: &'static str,
    draw: fn(&R) -> Drawn,
}

impl<R> Templates<R> {
    pub const fn new(page: &'static str, readme: &'static str, draw: fn(&R) -> Drawn) -> Self {
        Templates { page, readme, draw }
    }
}

/// What a suite's tables make of its results: the slots of its templates, and its plots.
pub struct Drawn {
    pub slots: Slots,
    pub plots: Plots,
}

impl Drawn {
    pub fn new<F: Into<String>>(
        slots: Slots,
        plots: impl IntoIterator<Item = (F, String)>,
    ) -> Self {
        Drawn { slots, plots: plots.into_iter().map(|(f, svg)| (f.into(), svg)).collect() }
    }
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

impl Place for crate::cli::Loom {
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

impl Place for crate::cli::Flames {
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
        templates: Templates<R>,
    ) -> Suite<O, R> {
        Suite { name, run, show: Show::Templates(templates) }
    }

    /// A suite that draws its page and writes its section its own way.
    pub const fn own(
        name: &'static str,
        run: fn(&O) -> anyhow::Result<R>,
        draw: fn(&Path, &R) -> anyhow::Result<()>,
        section: fn(&R) -> anyhow::Result<String>,
    ) -> Suite<O, R> {
        Suite { name, run, show: Show::Own { draw, section } }
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
        match &self.show {
            Show::Own { draw, .. } => draw(out, &r),
            Show::Templates(t) => {
                let drawn = (t.draw)(&r);
                for (file, svg) in &drawn.plots {
                    crate::run::write(&out.join(file), svg)?;
                }
                let page = fill((&format!("{}.md", self.name), t.page), &drawn.slots)?;
                crate::run::write(&out.join("README.md"), &page)
            }
        }
    }

    /// The README's section, from `results/NAME/NAME.json`.
    pub fn section(&self, results: &Path) -> anyhow::Result<String> {
        let json = results.join(self.name).join(format!("{}.json", self.name));
        let r = crate::run::read_json(&json)?;
        match &self.show {
            Show::Own { section, .. } => section(&r),
            Show::Templates(t) => {
                fill((&format!("readme-{}.md", self.name), t.readme), &(t.draw)(&r).slots)
            }
        }
    }
}

/// `template` (`name`) filled with `values`; a value no slot takes is left out.
pub fn fill((name, template): (&str, &str), values: &[(&str, String)]) -> anyhow::Result<String> {
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::template::fill(name, template, &values)
}
