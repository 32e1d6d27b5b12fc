//! How the crawl's kept-alive connections read, one-shot or multishot, as the http client
//! (`client_path.rs`) and the server (`../serve/path.rs`) have ladders of their own. Both
//! rungs take their buffers from the crawl's provided pool (`../buffers.rs`).
//!
//! A crawl's connection carries request after request to its origin, and a page comes in
//! one or more reads of 16 KiB. One-shot, each read is an entry the loop posts when the one
//! before it completes: a SEND's completion posts the first, each partial page the next.
//! Multishot, one RECV is posted with the connection's first SEND and stays posted through
//! every request it carries and the idle time between them: each arrival is a completion,
//! none an entry, and a server that closes an idle connection is seen at once, not on the
//! next request's SEND.
//!
//! The crawl takes the rung named by `CONCLAB_RING_CRAWL_PATH`, else the best.

use crate::ladder::Rung;

/// One rung; the second holds the first's buffers and adds the multishot RECV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, strum::EnumIter)]
pub enum CrawlPath {
    /// A RECV posted for each read a page needs, after the SEND of its request.
    OneShot,
    /// One RECV for the connection's life: it reads every page, and the EOF of an idle one.
    MultishotRecv,
}

impl Rung for CrawlPath {
    const VARIABLE: &'static str = "CONCLAB_RING_CRAWL_PATH";
    /// results/crawl's variant table is the judge.
    const BEST: CrawlPath = CrawlPath::MultishotRecv;

    fn name(self) -> &'static str {
        match self {
            CrawlPath::OneShot => "one-shot",
            CrawlPath::MultishotRecv => "multishot-recv",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_rung_has_a_name_of_its_own() {
        assert!(crate::ladder::names_are_distinct::<super::CrawlPath>());
    }
}
