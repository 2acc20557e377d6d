//! Outages longer than the retry window, end to end with the real binary: the SMTP server
//! is down (nothing listens on its port) and the webhook receiver answers 500 for longer
//! than `delivery.max_age`. Every alert is retried, then marked dead: logged, counted per
//! destination in `newshound status` and in `/metrics`, and kept in the state database
//! with its last error — never silently gone, and never sent once the destinations are
//! back (a dead alert is for a human to look at).

mod common;

use std::time::Duration;

use common::process::{Daemon, http_get, outbox_of, status, wait_until};
use common::receiver::Receiver;
use common::smtp::{Options, SmtpServer};
use common::{Item, TestServer, minutes_ago, rss, write_config};

#[test]
fn alerts_undeliverable_past_max_age_are_dead_counted_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = TestServer::start_in_background();
    let titles = [
        "Peace talks in Geneva",
        "Peace talks stall",
        "Peace talks resume",
    ];
    let items: Vec<Item<'_>> = titles
        .iter()
        .enumerate()
        .map(|(i, title)| Item {
            guid: ["a", "b", "c"][i],
            title,
            body: "",
            date: Some(minutes_ago(2)),
        })
        .collect();
    feed.set_feed("/feed.xml", rss(&items), None);
    // SMTP down: a port aiosmtpd was started on and stopped again, so nothing listens.
    let mut smtp = SmtpServer::start(&dir.path().join("maildir"), Options::default());
    smtp.stop();
    let receiver = Receiver::start_in_background();
    receiver.always(Some(500));
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[fetch]
max_interval = "1s"

[delivery]
max_age = "4s"
retry_base = "300ms"
retry_max = "1s"

[http]
listen = "127.0.0.1:0"

[[feeds]]
name = "Wire"
url = "{feed}"
interval = "1s"
scrape = false

[[rules]]
name = "peace"
keywords = ["peace talks"]
destinations = ["hook", "mail"]

[[destinations]]
name = "hook"
type = "webhook"
url = "{hook}"

[[destinations]]
name = "mail"
type = "email"
from = "newshound <alerts@example.org>"
to = ["desk@example.org"]
smtp = {{ host = "127.0.0.1", port = {port}, tls = "none", timeout = "2s" }}
"#,
            feed = feed.url("/feed.xml"),
            hook = receiver.url("/hook"),
            port = smtp.port,
        ),
    );
    let mut daemon = Daemon::start(&config, dir.path().join("daemon.log"), |_| {});
    let log = daemon.wait_for_log("/readyz on http://", Duration::from_secs(30));
    let address = log
        .split("/readyz on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("listen address")
        .to_string();

    // While within max_age the alerts are queued and retried, not dead.
    wait_until("queued alerts", Duration::from_secs(30), || {
        outbox_of(&config, "hook").is_some_and(|(queued, _, _)| queued == 3)
            && outbox_of(&config, "mail").is_some_and(|(queued, _, _)| queued == 3)
    });
    // Past max_age: all dead, per destination.
    wait_until("dead alerts in status", Duration::from_secs(60), || {
        outbox_of(&config, "hook") == Some((0, 3, 0))
            && outbox_of(&config, "mail") == Some((0, 3, 0))
    });
    let hook_attempts = receiver.got().len();
    assert!(
        hook_attempts >= 6,
        "each webhook alert was retried before it was given up: {hook_attempts} attempts"
    );

    // The text report shows the dead count in each destination's row.
    let (code, text) = status(&config, false);
    assert_eq!(code, Some(0), "{text}");
    for name in ["hook", "mail"] {
        let row: Vec<&str> = text
            .lines()
            .find(|line| line.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row in:\n{text}"))
            .split_whitespace()
            .collect();
        // DESTINATION QUEUED DEAD SENT ...
        assert_eq!(&row[1..4], ["0", "3", "0"], "{name} row in:\n{text}");
    }

    // Metrics: the dead gauge and the dead deliveries, by destination.
    let mut metrics = String::new();
    wait_until("dead alerts in /metrics", Duration::from_secs(30), || {
        let (code, _, body) = http_get(&address, "/metrics");
        metrics = body;
        code == 200
            && metrics.contains("newshound_outbox_dead{destination=\"hook\"} 3")
            && metrics.contains("newshound_outbox_dead{destination=\"mail\"} 3")
    });
    for destination in ["hook", "mail"] {
        assert!(
            metrics.contains(&format!(
                "newshound_deliveries_total{{destination=\"{destination}\",result=\"dead\"}} 3"
            )),
            "{metrics}"
        );
        assert!(
            metrics.contains(&format!(
                "newshound_outbox_pending{{destination=\"{destination}\"}} 0"
            )),
            "{metrics}"
        );
    }
    let log = daemon.log();
    assert_eq!(
        log.matches("alert is dead").count(),
        6,
        "each dead alert is logged once:\n{log}"
    );

    // The destinations come back: dead alerts stay dead (nothing is sent behind the
    // user's back days later), and stay in the state database with their last error.
    receiver.always(None);
    smtp.restart();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(daemon.stop().and_then(|s| s.code()), Some(0));
    assert_eq!(
        receiver.got().len(),
        hook_attempts,
        "no attempt after death"
    );
    assert!(smtp.messages().is_empty());
    let store = newshound::store::Store::open_read_only(&dir.path().join("state/newshound.db"))
        .expect("state database");
    let counts = store.outbox_counts().expect("counts");
    for destination in ["hook", "mail"] {
        let c = counts.get(destination).cloned().unwrap_or_default();
        assert_eq!((c.queued, c.dead, c.sent), (0, 3, 0), "{destination}");
    }
    let dead = store.dead_alerts().expect("dead alerts");
    assert_eq!(dead.len(), 6);
    for item in &dead {
        let error = item.last_error.clone().unwrap_or_default();
        assert!(!error.is_empty(), "{} kept its last error", item.key);
        if item.destination == "hook" {
            assert!(error.contains("500"), "{error}");
        }
        assert!(
            item.payload.contains("Peace talks"),
            "the alert itself is kept"
        );
    }
}
