//! The shape every sweep's results have (`brigade`, `disk`, `db`, `pools`, `serve`, `scale`,
//! `soak`): it runs its points — or with `--redraw` reads them back — into one JSON file,
//! `results/NAME/NAME.json`; draws its page and plots from that alone; and gives the README
//! its section from it. A suite's folder keeps only what is its own: what it runs
//! ([`Suite::run`]) and what its figures say ([`Suite::draw`], [`Suite::section`]).

use std::path::Path;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Where a suite writes, and whether it only redraws.
pub struct Place<'a> {
    pub out: &'a Path,
    pub redraw: bool,
}

pub trait Suite {
    /// Its folder under results/ and its JSON's name.
    const NAME: &'static str;
    /// Its command line's options.
    type Options;
    /// Everything it measured, as its JSON holds it.
    type Results: Serialize + DeserializeOwned;

    fn place(o: &Self::Options) -> Place<'_>;

    /// Run every point.
    fn run(o: &Self::Options) -> anyhow::Result<Self::Results>;

    /// Its page in results/NAME/: the tables and the plots.
    fn draw(out: &Path, r: &Self::Results) -> anyhow::Result<()>;

    /// Its section of the README.
    fn section(r: &Self::Results) -> anyhow::Result<String>;
}

/// `bench NAME`: run the points and write the JSON — or with `--redraw` read it back — and
/// draw the page from it.
pub fn main<S: Suite>(o: &S::Options) -> anyhow::Result<()> {
    let Place { out, redraw } = S::place(o);
    let json = out.join(format!("{}.json", S::NAME));
    let r: S::Results = if redraw {
        crate::run::read_json(&json)?
    } else {
        let r = S::run(o)?;
        std::fs::create_dir_all(out).with_context(|| out.display().to_string())?;
        crate::run::write(&json, &crate::run::to_json(&r))?;
        r
    };
    S::draw(out, &r)
}

/// The README's section of suite `S`, from `results/NAME/NAME.json`.
pub fn section<S: Suite>(results: &Path) -> anyhow::Result<String> {
    let r: S::Results =
        crate::run::read_json(&results.join(S::NAME).join(format!("{}.json", S::NAME)))?;
    S::section(&r)
}
