//! The command-line interface: argument definitions (shared with the man page and shell
//! completion generators) and one function per subcommand that calls into the library.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit status for configuration errors (sysexits.h `EX_CONFIG`).
pub const EX_CONFIG: i32 = 78;

/// Watches news feeds for statements that matter and alerts by email and webhooks.
#[derive(Debug, Parser)]
#[command(name = "newshound", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
    /// Log level (error, warn, info, debug, trace) or a `RUST_LOG`-style filter; overrides `RUST_LOG`.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse a feed file or URL and print it, normalised.
    Feed(FeedArgs),
}

/// Arguments of `newshound feed`.
#[derive(Debug, Args)]
pub struct FeedArgs {
    /// A feed file, or an http(s) URL to fetch.
    pub source: String,
    /// Print one JSON object instead of a readable summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs the parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Feed(args) => feed(args),
    }
}

fn feed(args: FeedArgs) -> anyhow::Result<i32> {
    let bytes = std::fs::read(PathBuf::from(&args.source))
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.source))?;
    let parsed = crate::feed::parse(&bytes, None, None)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &parsed)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{}",
            parsed.title.as_deref().unwrap_or("(untitled feed)")
        )?;
        for entry in &parsed.entries {
            writeln!(
                out,
                "- {}  {}",
                entry.title.as_deref().unwrap_or("(untitled)"),
                entry.link.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(0)
}
