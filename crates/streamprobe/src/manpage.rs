//! `streamprobe man --out DIR` (hidden from `--help`): writes the manual pages from the clap
//! definitions themselves, so they say what `--help` says and cannot drift from it. The .deb
//! ships them (scripts/build-deb.sh); `tests/manpage.rs` checks every flag is in them.

use std::path::{Path, PathBuf};

/// Options of `streamprobe man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Folder to write the pages into (created when missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Writes `streamprobe.1` and one page per visible subcommand (`streamprobe-analyze.1`,
/// `streamprobe-run.1`) into `out`, and prints each path written.
pub fn write(cli: clap::Command, out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: cannot create: {e}", out.display()))?;
    let mut cli = cli.disable_help_subcommand(true);
    // Building gives each subcommand its display name ("streamprobe-run"), which names its
    // page, and its full usage line ("streamprobe run ...").
    cli.build();
    // Every page's footer says which release it documents: clap knows the version of the top
    // command only, so it is given to the subcommands' pages here.
    let source = format!("streamprobe {}", env!("CARGO_PKG_VERSION"));
    let subcommands = cli.get_subcommands().filter(|s| !s.is_hide_set()).cloned();
    for command in std::iter::once(cli.clone()).chain(subcommands) {
        let page = clap_mangen::Man::new(command)
            .source(source.clone())
            .manual("streamprobe manual")
            .generate_to(out)
            .map_err(|e| format!("{}: writing the manual pages: {e}", out.display()))?;
        println!("{}", page.display());
    }
    Ok(())
}
