//! # workload — everything the conclab models share
//!
//! Each model binary (`serial`, `procs`, `threads`, `tokio`, `epoll`, `uring`) is one short
//! `main.rs` holding only its model's mechanism. Everything else lives here, once:
//!
//! - [`aio`]: what a task does on tokio's timer, for the two tokio-based models;
//! - [`cli`]: the command line of `../shared/CONTRACT.md`, with exit status 2 on bad input;
//! - [`task`]: what task `i` does and its value, the checksum, the blocking form of each task;
//! - [`http`]: the http task's request and an incremental response parser, sans I/O, so each
//!   model supplies only its own way of moving bytes;
//! - [`measure`]: rusage, children's peak RSS from `wait4`, lateness, the file-descriptor limit;
//! - [`report`]: the tally of results, the human and JSON report, and the exit status.
//! - [`service`]: the local HTTP service the http workload queries.
//!
//! The `service` binary in this crate is the local HTTP service the http workload queries.

pub mod aio;
pub mod cli;
pub mod http;
pub mod limits;
pub mod measure;
pub mod report;
pub mod service;
pub mod task;

pub use cli::{Args, Model, Workload};
pub use report::{exit, Report, Runner, Tally};
pub use task::TaskError;
