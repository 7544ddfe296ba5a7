//! The Debian package that scripts/build-deb.sh makes: exactly the files it installs, its
//! control fields and maintainer scripts, the systemd unit's key lines (checked by
//! `systemd-analyze verify` too), and the packaged binary, config and man pages, extracted
//! with `dpkg -x` and run. Also that packaging/streamprobe.toml is a config the parser accepts.
//!
//! Needs cargo-deb (build-deb.sh installs it), dpkg-deb and systemd-analyze (Debian's dpkg and
//! systemd; scripts/install-deps.sh --test installs them): a missing tool fails these tests,
//! it never skips them.

mod common;

use common::{root, streamprobe};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Runs a command, which must succeed; its stdout.
fn run_ok(command: &mut Command) -> String {
    let out: Output = command.output().unwrap_or_else(|e| {
        panic!("{command:?} cannot run ({e}): scripts/install-deps.sh --test installs the tools")
    });
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The .deb, built once for all the tests of this file (the script's last line is its path).
fn deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let out = run_ok(Command::new(root().join("scripts/build-deb.sh")).current_dir(root()));
        let path = PathBuf::from(out.lines().last().expect("the .deb's path"));
        let name = format!(
            "streamprobe_{}-1_{}.deb",
            env!("CARGO_PKG_VERSION"),
            run_ok(Command::new("dpkg").arg("--print-architecture")).trim()
        );
        assert_eq!(path.file_name().unwrap().to_str(), Some(name.as_str()));
        assert!(path.is_file(), "{}", path.display());
        path
    })
}

/// The package's files extracted with `dpkg -x` into a folder of their own (once).
fn extracted() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deb-root");
        let _ = std::fs::remove_dir_all(&dir);
        run_ok(Command::new("dpkg").arg("-x").arg(deb()).arg(&dir));
        dir
    })
}

/// A file of the extracted package, by its installed path.
fn installed(path: &str) -> PathBuf {
    extracted().join(path.trim_start_matches('/'))
}

const UNIT: &str = "/usr/lib/systemd/system/streamprobe.service";

#[test]
fn the_package_installs_exactly_these_files() {
    let listing = run_ok(Command::new("dpkg-deb").arg("-c").arg(deb()));
    let mut files = BTreeSet::new();
    for line in listing.lines() {
        // "-rw-r--r-- 0/0   2778 2026-12-07 00:00 ./etc/streamprobe/streamprobe.toml"
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (mode, owner, path) = (fields[0], fields[1], fields[5].trim_start_matches('.'));
        assert_eq!(owner, "0/0", "{line}");
        if mode.starts_with('d') {
            continue;
        }
        let expected_mode = if path == "/usr/bin/streamprobe" {
            "-rwxr-xr-x"
        } else {
            "-rw-r--r--"
        };
        assert_eq!(mode, expected_mode, "{line}");
        files.insert(path.to_string());
    }
    let expected: BTreeSet<String> = [
        "/usr/bin/streamprobe",
        UNIT,
        "/usr/lib/sysusers.d/streamprobe.conf",
        "/etc/streamprobe/streamprobe.toml",
        "/usr/share/man/man1/streamprobe.1.gz",
        "/usr/share/man/man1/streamprobe-analyze.1.gz",
        "/usr/share/man/man1/streamprobe-run.1.gz",
        "/usr/share/man/man1/streamprobe-show.1.gz",
        "/usr/share/man/man1/streamprobe-clear.1.gz",
        "/usr/share/doc/streamprobe/README.md",
        "/usr/share/doc/streamprobe/copyright",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(files, expected, "{listing}");
}

#[test]
fn the_control_fields_and_maintainer_scripts() {
    let field = |name: &str| {
        run_ok(Command::new("dpkg-deb").arg("-f").arg(deb()).arg(name))
            .trim_end()
            .to_string()
    };
    assert_eq!(field("Package"), "streamprobe");
    assert_eq!(field("Version"), format!("{}-1", env!("CARGO_PKG_VERSION")));
    assert_eq!(field("Section"), "net");
    assert_eq!(field("Priority"), "optional");
    assert!(field("Maintainer").contains('@'));
    // $auto found the libraries the binary links; the postinst's tools are named by hand.
    let depends = field("Depends");
    for dependency in [
        "libc6",
        "libpcap0.8",
        "systemd | systemd-standalone-sysusers",
        "init-system-helpers",
    ] {
        assert!(depends.contains(dependency), "{depends}");
    }
    // The synopsis is one line under 80 columns (Debian policy 3.4.1), then the long text.
    let description = field("Description");
    let synopsis = description.lines().next().unwrap();
    assert!(synopsis.len() < 80, "{synopsis}");
    assert!(description
        .lines()
        .nth(1)
        .unwrap()
        .starts_with(" streamprobe finds"));

    let control = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deb-control");
    let _ = std::fs::remove_dir_all(&control);
    run_ok(Command::new("dpkg-deb").arg("-e").arg(deb()).arg(&control));
    let read = |name: &str| std::fs::read_to_string(control.join(name)).unwrap();
    // An upgrade keeps the admin's config.
    assert_eq!(read("conffiles"), "/etc/streamprobe/streamprobe.toml\n");
    // The postinst creates the user and registers the unit, but neither enables nor starts
    // it on a first install (the example config names no source); an upgrade restarts it
    // only when it runs.
    let postinst = read("postinst");
    assert!(
        postinst.contains("systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} streamprobe.conf")
    );
    assert!(postinst.contains("deb-systemd-helper debian-installed streamprobe.service"));
    // The config's folder is the probe's, so that POST /api/v1/config can write it back.
    assert!(postinst.contains("for path in /etc/streamprobe /etc/streamprobe/streamprobe.toml"));
    assert!(postinst.contains("chown streamprobe:streamprobe \"$path\""));
    assert!(postinst.contains("[ \"$1\" = \"configure\" ] && [ -z \"$2\" ]"));
    assert!(postinst.contains("deb-systemd-invoke try-restart streamprobe.service"));
    for enables_or_starts in [
        "was-enabled defaults to true",
        "deb-systemd-invoke start",
        "_dh_action=start",
    ] {
        assert!(!postinst.contains(enables_or_starts), "{postinst}");
    }
    // Purge removes the state, and cargo-deb filled in its systemd part.
    let postrm = read("postrm");
    assert!(postrm.contains("rm -rf /var/lib/streamprobe"));
    assert!(postrm.contains("deb-systemd-helper purge streamprobe.service"));
    assert!(!postrm.contains("#DEBHELPER#"));
    assert!(read("prerm").contains("deb-systemd-invoke stop streamprobe.service"));
}

/// The unit's `Key=value` lines, in order (comments and section headers left out).
fn unit_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('[') && !l.trim().is_empty())
        .map(|l| {
            let (key, value) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not Key=value: {l}"));
            (key.to_string(), value.to_string())
        })
        .collect()
}

#[test]
fn the_unit_runs_the_probe_unprivileged_with_cap_net_raw_only() {
    let text = std::fs::read_to_string(installed(UNIT)).unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string(root().join("packaging/streamprobe.service")).unwrap()
    );
    let lines = unit_lines(&text);
    let values = |key: &str| -> Vec<&str> {
        lines
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    for (key, value) in [
        ("Type", "simple"),
        (
            "ExecStart",
            "/usr/bin/streamprobe run --config /etc/streamprobe/streamprobe.toml",
        ),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("User", "streamprobe"),
        ("Group", "streamprobe"),
        ("StateDirectory", "streamprobe"),
        ("WorkingDirectory", "/var/lib/streamprobe"),
        // One capability, and no other can be gained.
        ("AmbientCapabilities", "CAP_NET_RAW"),
        ("CapabilityBoundingSet", "CAP_NET_RAW"),
        ("NoNewPrivileges", "yes"),
        ("Restart", "on-failure"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "-/etc/streamprobe"),
        (
            "RestrictAddressFamilies",
            "AF_INET AF_INET6 AF_PACKET AF_UNIX AF_NETLINK",
        ),
        ("WantedBy", "multi-user.target"),
    ] {
        assert_eq!(values(key), [value], "{key}");
    }
    // Settings that would break capture on the host's interfaces, or hide the state folder.
    for absent in [
        "PrivateNetwork",
        "PrivateUsers",
        "DynamicUser",
        "IPAddressDeny",
    ] {
        assert!(values(absent).is_empty(), "{absent}");
    }
    // The user the unit names is the one the package creates, at home in the state folder.
    let sysusers =
        std::fs::read_to_string(installed("/usr/lib/sysusers.d/streamprobe.conf")).unwrap();
    let user: Vec<&str> = sysusers.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        user,
        ["u streamprobe - \"streamprobe video stream probe\" /var/lib/streamprobe"]
    );
}

#[test]
fn systemd_accepts_the_unit() {
    // `verify` checks that ExecStart's binary exists, on this machine's /usr/bin: the copy
    // it checks names the extracted binary instead (the test above checks the real line).
    // Its man page check runs `man streamprobe-run`: MANPATH points it at the package's.
    let text = std::fs::read_to_string(installed(UNIT)).unwrap().replace(
        "/usr/bin/streamprobe",
        installed("/usr/bin/streamprobe").to_str().unwrap(),
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deb-unit");
    std::fs::create_dir_all(&dir).unwrap();
    let unit = dir.join("streamprobe.service");
    std::fs::write(&unit, text).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .env("MANPATH", installed("/usr/share/man"))
        .output()
        .expect("systemd-analyze: scripts/install-deps.sh --test installs systemd");
    let err = String::from_utf8_lossy(&out.stderr);
    // verify exits 0 on warnings (an unknown key, a key in the wrong section): none either.
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
    // systemd's own exposure score (0 safest, 10 unconfined): the hardening is in force.
    let security = run_ok(
        Command::new("systemd-analyze")
            .args(["security", "--offline=true"])
            .arg(&unit),
    );
    let overall = security
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for streamprobe.service: "))
        .unwrap_or_else(|| panic!("{security}"))
        .1;
    let score: f64 = overall.split_whitespace().next().unwrap().parse().unwrap();
    assert!(score <= 2.5, "{overall}");
}

#[test]
fn the_packaged_binary_config_and_man_pages_work() {
    let binary = installed("/usr/bin/streamprobe");
    let version = run_ok(Command::new(&binary).arg("--version"));
    assert_eq!(
        version,
        format!("streamprobe {}\n", env!("CARGO_PKG_VERSION"))
    );
    // The config in /etc is packaging/streamprobe.toml, and the packaged binary accepts it.
    let config = installed("/etc/streamprobe/streamprobe.toml");
    assert_eq!(
        std::fs::read(&config).unwrap(),
        std::fs::read(root().join("packaging/streamprobe.toml")).unwrap()
    );
    let capture = root().join("tests/fixtures/impaired/capture.pcap");
    let table = run_ok(
        Command::new(&binary)
            .args(["analyze", "--progress", "never", "--config"])
            .arg(&config)
            .arg(&capture),
    );
    assert!(
        table.contains("10.231.9.1:36564 > 10.231.9.2:5004"),
        "{table}"
    );
    // The packaged pages are what the packaged binary writes, gzipped.
    let pages = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deb-man");
    let _ = std::fs::remove_dir_all(&pages);
    run_ok(Command::new(&binary).args(["man", "--out"]).arg(&pages));
    for page in [
        "streamprobe.1",
        "streamprobe-analyze.1",
        "streamprobe-run.1",
        "streamprobe-show.1",
        "streamprobe-clear.1",
    ] {
        let packaged = run_ok(
            Command::new("gzip")
                .arg("-dc")
                .arg(installed(&format!("/usr/share/man/man1/{page}.gz"))),
        );
        assert_eq!(
            packaged,
            std::fs::read_to_string(pages.join(page)).unwrap(),
            "{page}"
        );
    }
}

#[test]
fn the_example_config_is_accepted() {
    let config = root().join("packaging/streamprobe.toml");
    let config = config.to_str().unwrap();
    let capture = root().join("tests/fixtures/impaired/capture.pcap");
    let capture = capture.to_str().unwrap();
    let out = streamprobe(&[
        "analyze",
        "--progress",
        "never",
        "--config",
        config,
        capture,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its [run] table is read: JSON records (json = true), here from a replay.
    let out = streamprobe(&[
        "run",
        "--config",
        config,
        "--replay",
        capture,
        "--speed",
        "50",
        "--duration",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("records")).unwrap();
    assert!(first.is_object(), "{first}");
    // Its commented-out examples are valid too: every `#key = ...` and `#[table]` line
    // uncommented (prose comments start "# "), the file still parses.
    let text = std::fs::read_to_string(config).unwrap();
    let uncommented: Vec<&str> = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => rest,
            _ => l,
        })
        .collect();
    let examples = text
        .lines()
        .zip(&uncommented)
        .filter(|(a, b)| a != *b)
        .count();
    assert!(examples >= 15, "{examples} examples uncommented");
    let all = Path::new(env!("CARGO_TARGET_TMPDIR")).join("streamprobe-uncommented.toml");
    std::fs::write(&all, uncommented.join("\n")).unwrap();
    let out = streamprobe(&[
        "analyze",
        "--progress",
        "never",
        "--config",
        all.to_str().unwrap(),
        capture,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Alone it names no source, as its comments say: the service does not start on a guess.
    let out = streamprobe(&["run", "--config", config]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: no source"));
}
