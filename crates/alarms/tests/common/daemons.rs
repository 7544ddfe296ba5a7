//! The receivers the tests start: snmptrapd and rsyslogd on loopback.

use super::{listening, mib_path, tool, wait_for, Child};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// snmptrapd on 127.0.0.1:`port`, appending each notification as one line `TRAP <varbinds>`
/// (tab-separated) to `log`.
pub fn snmptrapd(dir: &Path, port: u16, log: &Path) -> Child {
    let conf = dir.join("snmptrapd.conf");
    std::fs::write(&conf, "authCommunity log public\nformat2 TRAP %V\\t%v\\n\n").unwrap();
    let child = Command::new(tool("snmptrapd"))
        .args(["-f", "-C", "-c"])
        .arg(&conf)
        .args(["-M", &mib_path(), "-m", "ALL", "-A", "-Lf"])
        .arg(log)
        .arg(format!("udp:127.0.0.1:{port}"))
        .env("SNMP_PERSISTENT_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("snmptrapd cannot run: scripts/install-deps.sh --test installs it");
    let child = Child(child);
    wait_for("snmptrapd to listen", Duration::from_secs(10), || {
        listening(port, false)
    });
    child
}

/// The notifications in `log` so far, each as its varbinds.
pub fn traps(log: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("TRAP "))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// rsyslogd listening on 127.0.0.1:`udp` and :`tcp`, writing each message as one line of
/// `|`-separated parsed fields then the raw message to the file it returns.
pub fn rsyslogd(dir: &Path, udp: u16, tcp: u16) -> (Child, PathBuf) {
    let out = dir.join("messages.log");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let conf = dir.join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}")
module(load="imudp")
module(load="imtcp")
template(name="fields" type="string" string="%inputname%|%pri%|%syslogfacility-text%|%syslogseverity-text%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%|%rawmsg%\n")
ruleset(name="alarms") {{
  action(type="omfile" file="{out}" template="fields")
}}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="alarms")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="alarms")
"#,
            work = work.display(),
            out = out.display()
        ),
    )
    .unwrap();
    let child = Command::new(tool("rsyslogd"))
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rsyslogd cannot run: scripts/install-deps.sh --test installs rsyslog");
    let child = Child(child);
    wait_for("rsyslogd to listen", Duration::from_secs(10), || {
        listening(udp, false) && listening(tcp, true)
    });
    (child, out)
}

/// The lines rsyslogd wrote so far.
pub fn lines(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
