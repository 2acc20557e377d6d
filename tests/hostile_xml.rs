//! Hostile XML feeds beyond entity bombs (tests/feed_parse.rs has billion laughs and XXE):
//! bytes that are not valid UTF-8 in a feed that says it is, UTF-16 behind labels that lie
//! about it (HTTP header, XML declaration, or both), and a feed of one million entries,
//! which is read through the real `newshound feed` binary: the entries are capped at
//! `feed::MAX_ENTRIES` and the process stays within a fixed memory budget. Nothing here is
//! timed.

use std::process::Command;

use newshound::feed::{self, ParsedFeed};

const BIN: &str = env!("CARGO_BIN_EXE_newshound");

fn titles(feed: &ParsedFeed) -> Vec<String> {
    feed.entries
        .iter()
        .map(|e| e.title.clone().unwrap_or_default())
        .collect()
}

/// An RSS document whose second title is `bad` raw bytes between valid UTF-8 titles.
fn rss_with_bytes_in_second_title(declared: &str, bad: &[u8]) -> Vec<u8> {
    let mut doc = format!(
        "<?xml version=\"1.0\" encoding=\"{declared}\"?>\n<rss version=\"2.0\"><channel><title>Новини</title>\
         <item><guid>1</guid><title>Перша новина</title></item><item><guid>2</guid><title>Before "
    )
    .into_bytes();
    doc.extend_from_slice(bad);
    doc.extend_from_slice(
        " after</title></item><item><guid>3</guid><title>Третя новина — «мир»</title></item></channel></rss>"
            .as_bytes(),
    );
    doc
}

#[test]
fn invalid_utf8_loses_only_the_broken_bytes() {
    let cases: &[(&str, &[u8])] = &[
        ("lone continuation bytes", b"\x80\xbf"),
        ("overlong slash", b"\xc0\xaf"),
        ("surrogate half", b"\xed\xa0\x80"),
        ("truncated sequence", b"\xe2\x82"),
        ("beyond U+10FFFF", b"\xf4\x90\x80\x80"),
        ("ff fe", b"\xff\xfe"),
    ];
    for (what, bad) in cases {
        for (declared, content_type) in [
            ("utf-8", Some("application/rss+xml; charset=utf-8")),
            ("utf-8", None),
        ] {
            let doc = rss_with_bytes_in_second_title(declared, bad);
            let feed = feed::parse(&doc, content_type, None)
                .unwrap_or_else(|e| panic!("{what}: the feed is refused: {e}"));
            let got = titles(&feed);
            assert_eq!(got.len(), 3, "{what}: {got:?}");
            // The valid UTF-8 around the broken bytes comes out exactly: one bad sequence
            // must not make the whole feed be read as a legacy charset.
            assert_eq!(got[0], "Перша новина", "{what}");
            assert_eq!(got[2], "Третя новина — «мир»", "{what}");
            assert_eq!(feed.title.as_deref(), Some("Новини"), "{what}");
            assert!(
                got[1].starts_with("Before") && got[1].ends_with("after"),
                "{what}: {:?}",
                got[1]
            );
            assert!(
                !got[1].chars().any(|c| c.is_control()),
                "{what}: {:?}",
                got[1]
            );
        }
    }
}

fn utf16le(text: &str, bom: bool) -> Vec<u8> {
    let mut bytes = if bom { vec![0xff, 0xfe] } else { Vec::new() };
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

fn utf16be(text: &str, bom: bool) -> Vec<u8> {
    let mut bytes = if bom { vec![0xfe, 0xff] } else { Vec::new() };
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    bytes
}

#[test]
fn utf16_behind_wrong_labels_is_still_read() {
    let doc = |declared: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"{declared}\"?>\n<rss version=\"2.0\"><channel>\
             <title>Україна: новини</title><item><guid>u1</guid><title>Перша новина</title></item>\
             </channel></rss>"
        )
    };
    // (what, bytes, HTTP Content-Type): every label here is wrong about the bytes.
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "UTF-16LE with BOM, declared ISO-8859-1",
            utf16le(&doc("ISO-8859-1"), true),
            None,
        ),
        (
            "UTF-16LE with BOM, declared UTF-8, served as UTF-8",
            utf16le(&doc("UTF-8"), true),
            Some("application/rss+xml; charset=utf-8"),
        ),
        (
            "UTF-16BE with BOM, served as windows-1251",
            utf16be(&doc("windows-1251"), true),
            Some("text/xml; charset=windows-1251"),
        ),
        (
            "UTF-16LE without BOM, declared UTF-8",
            utf16le(&doc("UTF-8"), false),
            None,
        ),
        (
            "UTF-16BE without BOM, declared UTF-16LE",
            utf16be(&doc("UTF-16LE"), false),
            None,
        ),
    ];
    for (what, bytes, content_type) in cases {
        let feed = feed::parse(&bytes, content_type, None)
            .unwrap_or_else(|e| panic!("{what}: the feed is refused: {e}"));
        assert_eq!(feed.title.as_deref(), Some("Україна: новини"), "{what}");
        assert_eq!(titles(&feed), vec!["Перша новина".to_string()], "{what}");
        assert_eq!(feed.entries[0].key, "id:u1", "{what}");
    }
}

/// Memory the `newshound feed` process may use on a 1,000,000-entry file (about 30 MB of
/// XML). Reading the file, decoding it and keeping `MAX_ENTRIES` entries fits well within
/// this; a parser that built every entry (or the whole document tree) would not.
const MILLION_ENTRY_BUDGET_KB: i64 = 512 * 1024;

#[test]
fn a_feed_of_a_million_entries_is_capped_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("million.xml");
    let mut doc = String::with_capacity(32 * 1024 * 1024);
    doc.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>big</title>");
    for n in 0..1_000_000 {
        doc.push_str("<item><guid>");
        doc.push_str(&n.to_string());
        doc.push_str("</guid><title>t</title></item>");
    }
    doc.push_str("</channel></rss>");
    std::fs::write(&path, &doc).expect("write the feed");
    drop(doc);

    let child = Command::new(BIN)
        .arg("feed")
        .arg(&path)
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    // Wait for exactly this child with wait4, which reports its own peak RSS (other tests'
    // children running at the same time are not counted).
    let (output, peak_kb) = wait_with_peak_rss(child, pid);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let entries = json["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), feed::MAX_ENTRIES);
    assert_eq!(entries[0]["key"], "id:0");
    assert_eq!(
        entries[feed::MAX_ENTRIES - 1]["key"],
        format!("id:{}", feed::MAX_ENTRIES - 1)
    );
    assert!(
        peak_kb < MILLION_ENTRY_BUDGET_KB,
        "peak RSS {peak_kb} kB over the budget of {MILLION_ENTRY_BUDGET_KB} kB"
    );
}

/// Reads the child's output to the end, then reaps it with `wait4` for its resource usage.
fn wait_with_peak_rss(
    mut child: std::process::Child,
    pid: libc::pid_t,
) -> (std::process::Output, i64) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut err_pipe = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut stdout)
        .expect("read stdout");
    stderr.extend(err_reader.join().expect("stderr reader"));
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value, and wait4 only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet reaped (Child::wait was never called), and
    // both pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    let output = std::process::Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout,
        stderr,
    };
    (output, usage.ru_maxrss)
}
