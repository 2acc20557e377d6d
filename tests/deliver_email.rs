//! Email delivery against a real, independent SMTP server (aiosmtpd, started by the test
//! harness): headers, parts, escaping, threading of updates, duplicates across outlets,
//! STARTTLS and implicit TLS with a private CA, AUTH, an outage that delivers every alert
//! exactly once, and the `deliver-test` command.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::smtp::{Mode, Options, SmtpServer, certificates, owner_only};
use common::{Item, TestServer, minutes_ago, rss, write_config};
use mail_parser::MessageParser;
use newshound::scheduler::{self, Pipeline};
use newshound::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_newshound");

fn pipeline(config_path: &Path) -> Arc<Pipeline> {
    let config = newshound::config::load(config_path).expect("valid config");
    let store = Arc::new(Store::open_dir(&config.state_dir).expect("store"));
    Arc::new(Pipeline::new(config, store).expect("pipeline"))
}

/// A received message: the raw text and its parsed form.
struct Mail {
    raw: String,
}

impl Mail {
    fn parse(bytes: &[u8]) -> Mail {
        Mail {
            raw: String::from_utf8_lossy(bytes).to_string(),
        }
    }

    fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default()
            .parse(self.raw.as_bytes())
            .expect("a parseable message")
    }

    fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_string()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.parsed().header_raw(name).map(|v| v.trim().to_string())
    }

    fn text(&self) -> String {
        self.parsed().body_text(0).unwrap_or_default().to_string()
    }

    fn html(&self) -> String {
        self.parsed().body_html(0).unwrap_or_default().to_string()
    }
}

fn email_config(feeds: &str, smtp: &str, extra: &str) -> String {
    format!(
        r#"
[delivery]
retry_base = "50ms"
retry_max = "200ms"

{feeds}

[[rules]]
name = "peace"
keywords = ["Rutte", "peace talks"]

[[destinations]]
name = "desk"
type = "email"
from = "newshound <alerts@example.org>"
to = ["desk@example.org"]
bcc = ["audit@example.org"]
smtp = {{ {smtp} }}
{extra}
"#
    )
}

fn one_feed(server: &TestServer, path: &str, name: &str) -> String {
    format!(
        "[[feeds]]\nname = \"{name}\"\nurl = \"{}\"\ninterval = \"1m\"\nscrape = false\n",
        server.url(path)
    )
}

fn wait_for_messages(smtp: &SmtpServer, count: usize) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let messages = smtp.messages();
        if messages.len() >= count || Instant::now() > deadline {
            return messages.iter().map(|m| Mail::parse(m)).collect();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_email_has_the_headers_parts_and_escaping_it_should() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(&dir.path().join("maildir"), Options::default());
    let server = TestServer::start().await;
    // A hostile title: CR/LF trying to add a Bcc header, markup, and a bidi override.
    server.set_feed(
        "/feed.xml",
        rss(&[Item {
            guid: "1",
            title: "Rutte &amp;amp; allies: 1 &amp;lt; 2&#13;&#10;Bcc: victim@example.org&#13;&#10;&#13;&#10;Injected \u{202E}body",
            body: "NATO Secretary General Mark Rutte said peace talks must include Ukraine.",
            date: Some(minutes_ago(5)),
        }]),
        None,
    );
    let config = write_config(
        dir.path(),
        &email_config(
            &one_feed(&server, "/feed.xml", "Європейська правда"),
            &format!("host = \"127.0.0.1\", port = {}, tls = \"none\"", smtp.port),
            "list_id = \"Desk alerts <desk.newshound.example.org>\"\nmessage_id_domain = \"newshound.example.org\"",
        ),
    );
    let p = pipeline(&config);
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.delivery.sent, 1, "{report:?}");
    let mails = wait_for_messages(&smtp, 1);
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    let alert_id = &report.alerts[0].id;

    assert_eq!(
        mail.message_id(),
        format!("{alert_id}@newshound.example.org")
    );
    assert_eq!(
        mail.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        mail.header("List-Id").as_deref(),
        Some("Desk alerts <desk.newshound.example.org>")
    );
    assert!(mail.parsed().date().is_some(), "Date header");
    let subject = mail.subject();
    assert!(
        subject.starts_with("[newshound] peace: Rutte & allies: 1 < 2"),
        "{subject}"
    );
    assert!(
        !subject.contains('\n') && !subject.contains('\u{202E}'),
        "{subject:?}"
    );
    // The CR/LF in the title created no header: the only Bcc is the configured one, in the
    // envelope and not in the headers.
    assert!(mail.parsed().bcc().is_none(), "no Bcc header");
    assert!(!mail.raw.contains("\nBcc:"), "no injected header");
    let rcpt = mail.header("X-RcptTo").unwrap_or_default();
    assert!(
        rcpt.contains("desk@example.org") && rcpt.contains("audit@example.org"),
        "{rcpt}"
    );
    assert!(!rcpt.contains("victim"), "{rcpt}");
    // multipart/alternative: text/plain first, then HTML.
    let root = mail
        .raw
        .find("multipart/alternative")
        .expect("multipart/alternative");
    let plain = mail.raw.find("text/plain").expect("text part");
    let html = mail.raw.find("text/html").expect("html part");
    assert!(root < plain && plain < html, "order of the parts");
    let text = mail.text();
    assert!(text.contains("Rule: peace"), "{text}");
    assert!(text.contains("\"Rutte\" in the title"), "{text}");
    assert!(text.contains("Європейська правда"), "{text}");
    assert!(text.contains("https://news.example/1"), "{text}");
    let html = mail.html();
    assert!(!html.contains("1 < 2"), "feed text is escaped: {html}");
    assert!(html.contains("Rutte &amp; allies: 1 &lt; 2"), "{html}");
    assert!(html.contains("<mark"), "highlighted evidence: {html}");
    assert!(
        !html.contains("<img") && !html.contains("<table"),
        "no images, no layout tables"
    );
    assert!(html.contains("max-width:600px"), "mobile width");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_threads_under_the_first_email_and_a_cosmetic_edit_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(&dir.path().join("maildir"), Options::default());
    let server = TestServer::start().await;
    let date = minutes_ago(5);
    let version = |title: &str, body: &str| {
        rss(&[Item {
            guid: "1",
            title,
            body,
            date: Some(date.clone()),
        }])
    };
    server.set_feed(
        "/feed.xml",
        version("Rutte visits Kyiv", "He met the president."),
        None,
    );
    let config = write_config(
        dir.path(),
        &email_config(
            &one_feed(&server, "/feed.xml", "Wire"),
            &format!("host = \"localhost\", port = {}, tls = \"none\"", smtp.port),
            "",
        ),
    );
    let p = pipeline(&config);
    scheduler::run_once(&p, false).await.expect("cycle");
    // The article is edited to add a statement about peace talks: new evidence.
    server.set_feed(
        "/feed.xml",
        version(
            "Rutte visits Kyiv",
            "He met the president and said peace talks must include Ukraine.",
        ),
        None,
    );
    let second = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(second.alerts.len(), 1, "one update");
    // A cosmetic edit: the same findings.
    server.set_feed(
        "/feed.xml",
        version(
            "Rutte visits Kyiv",
            "He met the president and said that peace talks must include Ukraine, officials said.",
        ),
        None,
    );
    let third = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(third.alerts.len(), 0, "no alert for a cosmetic edit");

    let mails = wait_for_messages(&smtp, 2);
    assert_eq!(mails.len(), 2);
    let (first, update) = (&mails[0], &mails[1]);
    let first_id = format!("<{}>", first.message_id());
    assert_eq!(update.header("In-Reply-To"), Some(first_id.clone()));
    assert_eq!(update.header("References"), Some(first_id));
    assert_eq!(update.subject(), format!("Re: {}", first.subject()));
    let text = update.text();
    assert!(text.contains("UPDATE"), "{text}");
    let new_part = text.split("All evidence").next().unwrap_or_default();
    assert!(
        new_part.contains("peace talks"),
        "the new evidence is named: {text}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(smtp.messages().len(), 2, "nothing more arrived");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_story_from_two_outlets_is_one_email_listing_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(&dir.path().join("maildir"), Options::default());
    let server = TestServer::start().await;
    let wire = "NATO Secretary General Mark Rutte said on Thursday that any peace talks must include \
        Ukraine at the table, speaking to reporters in Brussels after a meeting of foreign ministers. \
        He added that allies would keep supplying air defence systems through the winter.";
    server.set_feed(
        "/a.xml",
        rss(&[Item {
            guid: "a1",
            title: "Rutte: Ukraine must be at the table",
            body: wire,
            date: Some(minutes_ago(10)),
        }]),
        None,
    );
    server.set_feed(
        "/b.xml",
        rss(&[Item {
            guid: "b7",
            title: "NATO chief Rutte on peace talks",
            body: &format!("{wire} (Reuters)"),
            date: Some(minutes_ago(9)),
        }]),
        None,
    );
    let feeds = format!(
        "{}\n{}",
        one_feed(&server, "/a.xml", "Outlet A"),
        one_feed(&server, "/b.xml", "Outlet B")
    );
    let config = write_config(
        dir.path(),
        &email_config(
            &feeds,
            &format!("host = \"127.0.0.1\", port = {}, tls = \"none\"", smtp.port),
            "",
        ),
    );
    let p = pipeline(&config);
    let report = scheduler::run_once(&p, false).await.expect("cycle");
    assert_eq!(report.alerts.len(), 2, "both feeds matched");
    assert_eq!(report.delivery.duplicates, 1, "{report:?}");
    assert_eq!(report.delivery.sent, 1);
    let mails = wait_for_messages(&smtp, 1);
    assert_eq!(mails.len(), 1);
    let text = mails[0].text();
    assert!(text.contains("Also reported by:"), "{text}");
    let (primary, other) = if text.contains("Outlet A ·") || text.starts_with("Rutte: Ukraine") {
        ("Outlet A", "Outlet B")
    } else {
        ("Outlet B", "Outlet A")
    };
    let also = text.split("Also reported by:").nth(1).unwrap_or_default();
    assert!(also.contains(other) && !also.contains(primary), "{text}");
}

#[test]
fn starttls_with_auth_and_a_private_ca_and_the_server_answer_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(dir.path());
    let smtp = SmtpServer::start(
        &dir.path().join("maildir"),
        Options {
            mode: Mode::Starttls,
            cert: Some((cert, key)),
            auth: Some("alerts:s3cret pass".into()),
        },
    );
    std::fs::write(dir.path().join("smtp-password"), "s3cret pass\n").expect("password file");
    let smtp_settings = |password_file: &str| {
        format!(
            "host = \"localhost\", port = {}, tls = \"starttls\", username = \"alerts\", password_file = \"{password_file}\", tls_ca_file = \"{}\"",
            smtp.port,
            ca.display()
        )
    };
    let config = write_config(
        dir.path(),
        &email_config("", &smtp_settings("smtp-password"), ""),
    );
    let output = Command::new(BIN)
        .args(["deliver-test", "--config"])
        .arg(&config)
        .args(["--destination", "desk"])
        .output()
        .expect("run deliver-test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("accepted: 250"),
        "the server's answer is shown: {stdout}"
    );
    let mails = wait_for_messages(&smtp, 1);
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].subject().contains("(test)"),
        "{}",
        mails[0].subject()
    );

    // A wrong password: the server's 535 is shown, and it is permanent.
    std::fs::write(dir.path().join("wrong-password"), "nope").expect("password file");
    let config = write_config(
        dir.path(),
        &email_config("", &smtp_settings("wrong-password"), ""),
    );
    let output = Command::new(BIN)
        .args(["deliver-test", "--config"])
        .arg(&config)
        .args(["--destination", "desk"])
        .output()
        .expect("run deliver-test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(69), "{stdout}");
    assert!(
        stdout.contains("535") && stdout.contains("permanent"),
        "{stdout}"
    );
}

#[test]
fn implicit_tls_is_verified_against_the_configured_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(dir.path());
    let smtp = SmtpServer::start(
        &dir.path().join("maildir"),
        Options {
            mode: Mode::Smtps,
            cert: Some((cert, key)),
            auth: None,
        },
    );
    let run = |ca_line: &str| {
        let config = write_config(
            dir.path(),
            &email_config(
                "",
                &format!(
                    "host = \"localhost\", port = {}, tls = \"implicit\"{ca_line}",
                    smtp.port
                ),
                "",
            ),
        );
        Command::new(BIN)
            .args(["deliver-test", "--config"])
            .arg(&config)
            .args(["--destination", "desk"])
            .output()
            .expect("run deliver-test")
    };
    // Without trusting the test CA the certificate is refused (temporary: fix and retry).
    let refused = run("");
    assert_eq!(
        refused.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&refused.stdout)
    );
    assert!(smtp.messages().is_empty());
    let trusted = run(&format!(", tls_ca_file = \"{}\"", ca.display()));
    let stdout = String::from_utf8_lossy(&trusted.stdout);
    assert_eq!(trusted.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("accepted: 250"), "{stdout}");
    assert_eq!(wait_for_messages(&smtp, 1).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_outage_delivers_every_alert_exactly_once_even_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut smtp = SmtpServer::start(&dir.path().join("maildir"), Options::default());
    let port = smtp.port;
    smtp.stop();
    let server = TestServer::start().await;
    let items: Vec<(String, String)> = (1..=3)
        .map(|i| (i.to_string(), format!("Rutte statement number {i}")))
        .collect();
    server.set_feed(
        "/feed.xml",
        rss(&items
            .iter()
            .map(|(guid, title)| Item {
                guid,
                title,
                body: "text",
                date: Some(minutes_ago(3)),
            })
            .collect::<Vec<_>>()),
        None,
    );
    let config = write_config(
        dir.path(),
        &email_config(
            &one_feed(&server, "/feed.xml", "Wire"),
            &format!("host = \"127.0.0.1\", port = {port}, tls = \"none\", timeout = \"2s\""),
            "",
        ),
    );
    {
        let p = pipeline(&config);
        let report = scheduler::run_once(&p, false).await.expect("cycle");
        assert_eq!(report.queued, 3);
        assert_eq!(report.delivery.sent, 0);
        assert_eq!(report.delivery.retried, 3, "{report:?}");
        // Still down: retried again, nothing lost.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let again = p.deliverer.deliver_due(&p.store).await.expect("pass");
        assert_eq!(again.sent, 0);
        assert!(again.retried > 0);
    } // the daemon stops here
    smtp.restart();
    // A new process: the outbox resumes exactly where it stopped.
    let p = pipeline(&config);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sent = 0;
    while sent < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sent += p.deliverer.deliver_due(&p.store).await.expect("pass").sent;
    }
    assert_eq!(sent, 3);
    // Nothing more is sent later, and the mailbox has each alert exactly once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = p.deliverer.deliver_due(&p.store).await.expect("pass");
    assert_eq!(later.sent, 0);
    let mails = wait_for_messages(&smtp, 3);
    let mut ids: Vec<String> = mails.iter().map(Mail::message_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((mails.len(), ids.len()), (3, 3), "every alert exactly once");
    let counts = p.store.outbox_counts().expect("counts");
    let desk = counts.get("desk").cloned().unwrap_or_default();
    assert_eq!((desk.queued, desk.sent, desk.dead), (0, 3, 0));
}

#[test]
fn an_inline_password_in_a_group_readable_config_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &email_config(
            "",
            "host = \"smtp.example.org\", username = \"alerts\", password = \"hunter2\"",
            "",
        ),
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("newshound.toml:"),
        "names the file and line: {stderr}"
    );
    assert!(
        stderr.contains("chmod 600") && stderr.contains("password_file"),
        "{stderr}"
    );
    // Readable by its owner only, the same file is accepted.
    owner_only(&config);
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run check");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("email to desk@example.org via smtp smtp.example.org:587"),
        "{stdout}"
    );
}

#[test]
fn plain_smtp_to_a_remote_host_is_a_config_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &email_config("", "host = \"smtp.example.org\", tls = \"none\"", ""),
    );
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("only allowed to localhost"), "{stderr}");
}

#[test]
fn the_sendmail_transport_pipes_the_message_to_the_program() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    // A stand-in for sendmail that records its arguments and the message it is given.
    let program = dir.path().join("fake-sendmail");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\necho \"$@\" > {dir}/args\ncat > {dir}/message\n",
            dir = dir.path().display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let config = write_config(
        dir.path(),
        &email_config("", "host = \"unused\"", "").replace(
            "smtp = { host = \"unused\" }",
            &format!("sendmail = {{ command = \"{}\" }}", program.display()),
        ),
    );
    let output = Command::new(BIN)
        .args(["deliver-test", "--config"])
        .arg(&config)
        .args(["--destination", "desk"])
        .output()
        .expect("run deliver-test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("accepted by sendmail"), "{stdout}");
    let args = std::fs::read_to_string(dir.path().join("args")).expect("args");
    assert!(args.contains("-f alerts@example.org"), "{args}");
    assert!(
        args.contains("desk@example.org") && args.contains("audit@example.org"),
        "{args}"
    );
    let message = Mail::parse(&std::fs::read(dir.path().join("message")).expect("message"));
    assert!(message.subject().ends_with("(test)"));
    assert!(message.parsed().bcc().is_none(), "Bcc only in the envelope");
}
