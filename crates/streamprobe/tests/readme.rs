//! The README's sample output is what this build prints (scripts/readme-sample.sh writes it),
//! and its tables fit the 120 columns the README promises.

mod common;

use common::root;
use std::process::Command;

/// The sample block: its command line and the output shown under it.
fn sample() -> (String, String) {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("<!-- sample:").expect("a sample block");
    let block = &readme[start..];
    let body = &block[block.find("```\n$ ").unwrap() + 6..];
    let (command, rest) = body.split_once('\n').unwrap();
    let shown = &rest[..rest.find("```\n<!-- /sample -->").expect("the block's end")];
    (command.to_string(), shown.to_string())
}

#[test]
fn the_readme_sample_is_what_the_build_prints() {
    let (command, shown) = sample();
    let argv: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(argv[0], "streamprobe");
    let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .env("STREAMPROBE_API_LISTEN", "none")
        .env("STREAMPROBE_STORE", "none")
        .args(&argv[1..])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        shown, printed,
        "README.md is stale: run scripts/readme-sample.sh"
    );
    // The table and its notes keep to 120 columns (the first line names the file).
    for line in printed.lines().skip(1) {
        assert!(line.len() <= 120, "{} columns: {line}", line.len());
    }
    // --wide adds columns to the same rows.
    let wide = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
        .env("STREAMPROBE_API_LISTEN", "none")
        .env("STREAMPROBE_STORE", "none")
        .args(&argv[1..])
        .arg("--wide")
        .current_dir(root())
        .output()
        .unwrap();
    let wide = String::from_utf8(wide.stdout).unwrap();
    let header = wide.lines().nth(1).unwrap();
    for column in [
        "PAYLOAD", "JUMPS", "JIT MEAN", "MAX GAP", "MLR MAX", "GROUP",
    ] {
        assert!(header.contains(column), "{header}");
        assert!(!printed.lines().nth(1).unwrap().contains(column));
    }
    assert_eq!(wide.lines().count(), printed.lines().count());
    // Other captures: DF of over a second, IPv6 and long names keep to 120 too.
    for capture in [
        "tests/fixtures/burst/capture.pcap",
        "tests/fixtures/variants/two-interfaces.pcapng",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_streamprobe"))
            .env("STREAMPROBE_API_LISTEN", "none")
            .env("STREAMPROBE_STORE", "none")
            .args(["analyze", capture])
            .current_dir(root())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        for line in text.lines().skip(1) {
            assert!(
                line.len() <= 120,
                "{capture}: {} columns: {line}",
                line.len()
            );
        }
    }
}
