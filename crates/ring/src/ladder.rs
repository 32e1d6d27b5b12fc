//! A ladder of rungs, plain to modern, each adding one io_uring feature to the rung below,
//! so that what each costs and saves is measured alone. The server has one
//! (`serve/path.rs`), the http client another (`parts/client_path.rs`), the crawl a third
//! (`parts/crawl_path.rs`); an environment
//! variable picks a rung, for the benchmark's variant tables, else the rung the tables
//! measured best runs.

use strum::IntoEnumIterator;

pub trait Rung: IntoEnumIterator + Copy + 'static {
    /// The environment variable that picks a rung.
    const VARIABLE: &'static str;
    /// What runs unless the variable says otherwise: the rung its variant table measured best.
    const BEST: Self;

    /// The rung's name, as the variable takes it and the table prints it.
    fn name(self) -> &'static str;

    /// The rung the environment names, [`Rung::BEST`] when it names none, or why the name
    /// is not one (a one-line error: the program exits 2 with it).
    fn from_env() -> Result<Self, String> {
        let Some(name) = std::env::var_os(Self::VARIABLE) else { return Ok(Self::BEST) };
        let name = name.to_string_lossy();
        Self::iter().find(|p| p.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Self::iter().map(Self::name).collect();
            format!("{}: no path {name:?}; one of {}", Self::VARIABLE, names.join(", "))
        })
    }
}

/// The rung a run uses, or exit 2 with why the variable names none.
pub fn chosen<R: Rung>() -> R {
    R::from_env().unwrap_or_else(|why| {
        eprintln!("Error: {why}");
        std::process::exit(2)
    })
}

#[cfg(test)]
pub fn names_are_distinct<R: Rung>() -> bool {
    let names: std::collections::HashSet<&str> = R::iter().map(R::name).collect();
    names.len() == R::iter().count()
}
