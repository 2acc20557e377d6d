//! The `newshound` binary: parses the command line and hands over to the library.

use clap::Parser;

/// jemalloc instead of glibc's allocator: see the comment on the dependency in Cargo.toml.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (its `malloc_conf`, a C string): one arena per CPU, used by whichever
/// thread runs there, instead of four per CPU. It keeps less memory in arenas that sit idle
/// (100 feeds' peak 29.5 → 28.4 MiB, the 10,000-feed cycle's 104 → ~100 MiB) at no cost in
/// speed. `_RJEM_MALLOC_CONF` in the environment still overrides it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_OPTIONS: &u8 = &b"percpu_arena:percpu\0"[0];

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
