//! The shipped systemd unit: its hardening score stays at or below 1.5
//! (`systemd-analyze security --offline=yes --threshold=15`), it and its documented drop-ins
//! pass `systemd-analyze verify` without a single warning, and its ExecStart and
//! Documentation= point at things that exist once installed (the built binary and the
//! generated man page stand in for the installed ones).
//!
//! These tests need `systemd-analyze` (Debian package `systemd`; `.ci/run` installs it).
//! Without it they fail and say so: a hardening check that silently passes is worse than
//! none.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_newshound");
/// Where the unit expects the binary (README "Run as a service").
const INSTALLED_BIN: &str = "/usr/local/bin/newshound";

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn systemd_analyze(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new("systemd-analyze");
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    match command.output() {
        Ok(output) => output,
        Err(error) => panic!(
            "cannot run systemd-analyze ({error}). These tests check the shipped unit's \
             hardening and syntax and need it: install systemd (Debian/Ubuntu: \
             `apt-get install systemd`; .ci/run does this)"
        ),
    }
}

/// The exposure systemd-analyze printed ("Overall exposure level for X: 1.1 OK").
fn exposure(output: &Output) -> f64 {
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| {
            let rest = line.split("Overall exposure level for ").nth(1)?;
            let value = rest.split(": ").nth(1)?.split_whitespace().next()?;
            value.parse().ok()
        })
        .unwrap_or_else(|| panic!("no exposure level in systemd-analyze output:\n{text}"))
}

/// A copy of the unit (and optional drop-ins beside it, in `newshound.service.d/`) in a
/// temporary directory, with ExecStart pointing at the built binary.
fn unit_copy(drop_ins: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = std::fs::read_to_string(repo_file("systemd/newshound.service")).expect("unit");
    assert!(
        unit.contains(&format!("ExecStart={INSTALLED_BIN} run ")),
        "ExecStart runs the installed binary"
    );
    let unit = unit.replace(INSTALLED_BIN, BIN);
    let path = dir.path().join("newshound.service");
    std::fs::write(&path, unit).expect("write unit");
    if !drop_ins.is_empty() {
        let drop_in_dir = dir.path().join("newshound.service.d");
        std::fs::create_dir(&drop_in_dir).expect("mkdir");
        for name in drop_ins {
            std::fs::copy(
                repo_file(&format!("systemd/{name}")),
                drop_in_dir.join(name),
            )
            .expect("copy drop-in");
        }
    }
    (dir, path)
}

#[test]
fn the_shipped_unit_has_an_exposure_of_at_most_1_5() {
    let unit = repo_file("systemd/newshound.service");
    let unit_arg = unit.to_string_lossy();
    let output = systemd_analyze(
        &["security", "--offline=yes", "--threshold=15", &unit_arg],
        &[],
    );
    let level = exposure(&output);
    eprintln!("newshound.service exposure: {level}");
    assert!(
        output.status.success(),
        "systemd-analyze security --threshold=15 failed (exposure {level}):\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(level <= 1.5, "exposure {level} > 1.5");
}

#[test]
fn the_unit_verifies_without_warnings_and_documents_an_existing_man_page() {
    let (dir, unit) = unit_copy(&[]);
    let unit_arg = unit.to_string_lossy();
    // Syntax, ExecStart executable, dependencies; every warning counts.
    let output = systemd_analyze(&["verify", "--man=no", &unit_arg], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "verify failed:\n{stderr}");
    assert!(stderr.trim().is_empty(), "verify warned:\n{stderr}");

    // Documentation=man:newshound(1) must resolve to the page `newshound man` generates.
    let man_dir = dir.path().join("man");
    let generated = Command::new(BIN)
        .args(["man", "--out-dir"])
        .arg(man_dir.join("man1"))
        .output()
        .expect("run newshound man");
    assert!(generated.status.success());
    let page = std::fs::read_to_string(man_dir.join("man1/newshound.1")).expect("man page");
    assert!(page.contains(".TH newshound 1"), "{page}");
    for subcommand in ["run", "status", "opml-import"] {
        assert!(
            man_dir
                .join(format!("man1/newshound-{subcommand}.1"))
                .exists(),
            "page for {subcommand}"
        );
    }
    if Command::new("man").arg("--version").output().is_ok() {
        let output = systemd_analyze(&["verify", &unit_arg], &[("MANPATH", &man_dir)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stderr.trim().is_empty(),
            "verify with the man page check:\n{stderr}"
        );
    } else {
        eprintln!("note: `man` is not installed; the Documentation= man page lookup was not run");
    }
}

#[test]
fn verify_really_checks_exec_start() {
    // With ExecStart pointing at a binary that does not exist, verify must fail: proof that
    // the check above exercises ExecStart rather than ignoring it.
    let (dir, unit) = unit_copy(&[]);
    let missing = dir.path().join("not-installed/newshound");
    let text = std::fs::read_to_string(&unit).expect("unit");
    std::fs::write(&unit, text.replace(BIN, &missing.to_string_lossy())).expect("write");
    let output = systemd_analyze(&["verify", "--man=no", &unit.to_string_lossy()], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "verify accepted a missing binary");
    assert!(stderr.contains("not-installed/newshound"), "{stderr}");
}

#[test]
fn the_documented_drop_ins_verify_and_keep_their_stated_exposure() {
    for (drop_in, limit) in [("private-network.conf", 1.5), ("sendmail.conf", 2.0)] {
        let (_dir, unit) = unit_copy(&[drop_in]);
        let unit_arg = unit.to_string_lossy();
        let output = systemd_analyze(&["verify", "--man=no", &unit_arg], &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stderr.trim().is_empty(),
            "{drop_in}: verify:\n{stderr}"
        );
        let output = systemd_analyze(&["security", "--offline=yes", &unit_arg], &[]);
        let level = exposure(&output);
        eprintln!("with {drop_in}: exposure {level}");
        assert!(level <= limit, "{drop_in}: exposure {level} > {limit}");
    }
    // The drop-ins really are read: the sendmail one turns DynamicUser off.
    let (_dir, unit) = unit_copy(&["sendmail.conf"]);
    let output = systemd_analyze(&["security", "--offline=yes", &unit.to_string_lossy()], &[]);
    assert!(exposure(&output) > 1.1, "the drop-in changed nothing");
}
