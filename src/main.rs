//! The `newshound` binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() {
    let cli = newshound::cli::Cli::parse();
    match newshound::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(1);
        }
    }
}
