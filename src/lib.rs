//! newshound watches news feeds for statements that matter and alerts by email and webhooks.
//!
//! The crate is laid out as the pipeline the daemon runs, one module per stage:
//!
//! ```text
//! config -> scheduler -> fetch -> feed (parse) -> extract (article) -> rules (match)
//!        -> alerts (dedupe, outbox) -> deliver (file, email, webhook) ; store underneath
//! ```
//!
//! Each stage has a small typed input and output (`Entry` -> `Article` -> `Match` ->
//! `Alert`), so each can be tested alone and data walks one way.

pub mod alerts;
pub mod charset;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod extract;
pub mod feed;
pub mod fetch;
pub mod observe;
pub mod opml;
pub mod robustness;
pub mod rules;
pub mod scheduler;
pub mod service;
pub mod status;
pub mod store;
