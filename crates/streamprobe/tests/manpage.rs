//! The man pages (`streamprobe man --out DIR`, hidden) say what `--help` says: every long
//! flag of each subcommand's `--help` is on its page and no other, and the top page lists the
//! visible subcommands. The pages come from the same clap definitions; this keeps them so.

mod common;

use common::streamprobe;
use std::collections::BTreeSet;
use std::path::Path;

/// The `--long-flags` named in a text.
fn long_flags(text: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("--") {
        let name: String = rest[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if name.starts_with(|c: char| c.is_ascii_lowercase()) {
            flags.insert(name.clone());
        }
        rest = &rest[at + 2 + name.len()..];
    }
    flags
}

/// The flags a help text defines: those at the start of its option lines
/// ("  -h, --help", "      --interface <IFACE>"), not those its prose mentions.
fn defined_flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .flat_map(|l| long_flags(l.split("  ").next().unwrap()))
        .collect()
}

/// A roff page's defined flags: its `.TP` tag lines, hyphens unescaped.
fn page_flags(page: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = page.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0] == ".TP")
        .flat_map(|w| long_flags(&w[1].replace("\\-", "-")))
        .collect()
}

#[test]
fn the_man_pages_name_every_flag_of_help() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("man-pages");
    let _ = std::fs::remove_dir_all(&dir);
    let out = streamprobe(&["man", "--out", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            Path::new(l)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: BTreeSet<String> = [
        "streamprobe.1",
        "streamprobe-analyze.1",
        "streamprobe-run.1",
        "streamprobe-show.1",
        "streamprobe-clear.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(written, expected);
    for sub in ["analyze", "run", "show", "clear"] {
        let help = streamprobe(&[sub, "--help"]);
        assert!(help.status.success());
        let help_flags = defined_flags(&String::from_utf8(help.stdout).unwrap());
        // A floor, so that a parser gone wrong (no flags found) cannot pass.
        assert!(help_flags.len() >= 2, "{sub}: {help_flags:?}");
        let page = std::fs::read_to_string(dir.join(format!("streamprobe-{sub}.1"))).unwrap();
        assert_eq!(page_flags(&page), help_flags, "streamprobe-{sub}.1");
        // The environment variables of the flags are on the page too.
        if sub == "run" {
            for var in [
                "STREAMPROBE_INTERFACE",
                "STREAMPROBE_JOIN",
                "STREAMPROBE_CONFIG",
                "STREAMPROBE_STORE",
                "STREAMPROBE_API_LISTEN",
                "STREAMPROBE_METRICS_MAX_FLOW_SERIES",
            ] {
                assert!(page.contains(var), "{var}");
            }
        }
    }
    // The top page lists the subcommands `--help` lists, without the hidden `man`.
    let top = std::fs::read_to_string(dir.join("streamprobe.1")).unwrap();
    let help = String::from_utf8(streamprobe(&["--help"]).stdout).unwrap();
    assert!(!help.contains("  man "), "{help}");
    for sub in ["analyze", "run", "show", "clear"] {
        assert!(help.contains(&format!("  {sub} ")), "{help}");
        assert!(top.contains(&format!("streamprobe\\-{sub}(1)")), "{sub}");
    }
    assert!(!top.contains("streamprobe\\-man"));
    assert!(top.contains(&format!("streamprobe {}", env!("CARGO_PKG_VERSION"))));
}
