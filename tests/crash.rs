//! The crash harness: the real `newshound run` binary is killed with SIGKILL at random
//! moments and restarted, again and again, while a loopback feed keeps publishing new
//! matching entries and two real destinations count what arrives: a webhook receiver (by
//! `webhook-id`) and aiosmtpd (by `Message-ID`). Kills land during feed fetches (the feed
//! server answers slowly), store writes (every poll writes the whole, growing feed's seen
//! set), webhook deliveries (the receiver answers slowly) and SMTP transactions.
//!
//! Pass: after a final clean run has drained the outbox, every published entry reached
//! each destination, and a key arrived more than once only as the resend of an alert that
//! a kill interrupted. After each kill the harness compares what arrived during that run
//! with the state database: an alert that arrived but is not recorded as sent was in flight
//! (delivered, not yet recorded) when the daemon died, and is sent again after the restart.
//! Each key may arrive once plus once per kill that interrupted it, and — since the
//! delivery worker sends one alert at a time and records it before the next — a kill
//! interrupts at most one delivery, so resends never exceed the kills. (A key can arrive
//! three times: interrupted, resent first thing after the restart, and that resend
//! interrupted by the next kill. Delivery is at-least-once with a stable idempotency key,
//! which receivers de-duplicate on.)
//!
//! One harness, one knob: `NEWSHOUND_CRASH_KILLS` (default 5, the version `cargo test`
//! runs). `scripts/crash-harness.sh` runs the long version (50 kills) and prints the
//! figures. `NEWSHOUND_CRASH_SEED` replays a run's random choices.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use common::receiver::Receiver;
use common::smtp::{Options, SmtpServer};
use common::write_config;

const BIN: &str = env!("CARGO_BIN_EXE_newshound");

/// Kills when `NEWSHOUND_CRASH_KILLS` is not set.
const DEFAULT_KILLS: usize = 5;

/// Longest wait for the final run to deliver everything (generous: a slow, shared
/// machine must not fail the harness; a lost alert never arrives, however long we wait).
const DRAIN_DEADLINE: Duration = Duration::from_secs(180);

/// The feed the harness publishes to: every entry ever published stays in it (so nothing
/// leaves the feed before the daemon could see it), newest first. It answers after a
/// random delay, and counts requests in flight, so kills land during fetches too.
#[derive(Default)]
struct Publisher {
    entries: Mutex<Vec<(u64, String)>>,
    in_flight: AtomicUsize,
}

impl Publisher {
    fn publish(&self, n: u64) {
        let date = jiff::fmt::rfc2822::to_string(
            &jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC),
        )
        .unwrap_or_default();
        self.entries.lock().expect("lock").push((n, date));
    }

    fn published(&self) -> BTreeSet<String> {
        self.entries
            .lock()
            .expect("lock")
            .iter()
            .map(|(n, _)| link(*n))
            .collect()
    }

    fn feed(&self) -> String {
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Wire</title><link>https://news.example/</link>\n",
        );
        for (n, date) in self.entries.lock().expect("lock").iter().rev() {
            // Short, distinct texts: no two entries are the same story.
            xml.push_str(&format!(
                "<item><title>Peace talks round {n}</title><link>{}</link><guid>wire-{n}</guid><pubDate>{date}</pubDate><description>Statement {n}.</description></item>\n",
                link(*n)
            ));
        }
        xml.push_str("</channel></rss>\n");
        xml
    }
}

fn link(n: u64) -> String {
    format!("https://news.example/wire/{n}")
}

/// Counts a feed request as in flight until the answer is sent or the client is gone.
struct Fetching(Arc<Publisher>);

impl Drop for Fetching {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve_feed(State(publisher): State<Arc<Publisher>>) -> Response {
    publisher.in_flight.fetch_add(1, Ordering::SeqCst);
    let _fetching = Fetching(publisher.clone());
    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..150))).await;
    let mut response = Response::new(Body::from(publisher.feed()));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/rss+xml; charset=utf-8"),
    );
    response
}

fn start_feed_server(publisher: Arc<Publisher>) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let app = Router::new().fallback(serve_feed).with_state(publisher);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            let _ = axum::serve(listener, app).await;
        });
    });
    rx.recv().expect("feed server")
}

/// What arrived at both destinations once the receivers are done with what the killed
/// daemon sent them (aiosmtpd may still be storing a message, the receiver may not have
/// run its handler yet): the counts must stay the same for a while. Under load this waits
/// longer; it never decides anything by a fixed delay alone.
fn settled_arrivals(receiver: &Receiver, smtp: &SmtpServer) -> [Arrivals; 2] {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = (usize::MAX, usize::MAX);
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = [webhook_arrivals(receiver), email_arrivals(smtp)];
        let counts = (now[0].deliveries(), now[1].deliveries());
        if counts == last || Instant::now() > deadline {
            return now;
        }
        last = counts;
    }
}

/// What arrived at one destination: how often each idempotency key, and the entries.
#[derive(Debug, Default)]
struct Arrivals {
    by_key: BTreeMap<String, usize>,
    links: BTreeSet<String>,
}

impl Arrivals {
    fn add(&mut self, key: String, link: String) {
        *self.by_key.entry(key).or_default() += 1;
        self.links.insert(link);
    }

    fn deliveries(&self) -> usize {
        self.by_key.values().sum()
    }

    /// Keys that arrived more than once.
    fn repeated(&self) -> usize {
        self.by_key.values().filter(|&&n| n > 1).count()
    }

    /// Deliveries beyond the first of each key.
    fn resends(&self) -> usize {
        self.by_key.values().map(|n| n - 1).sum()
    }

    fn most(&self) -> usize {
        self.by_key.values().copied().max().unwrap_or(0)
    }
}

fn webhook_arrivals(receiver: &Receiver) -> Arrivals {
    let mut arrivals = Arrivals::default();
    for request in receiver.got() {
        let body = request.json();
        let link = body["data"]["article"]["link"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        arrivals.add(request.header("webhook-id").to_string(), link);
    }
    arrivals
}

fn email_arrivals(smtp: &SmtpServer) -> Arrivals {
    let mut arrivals = Arrivals::default();
    for raw in smtp.messages() {
        let message = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("a parseable message");
        let link = message
            .header("X-Newshound-Url")
            .and_then(|h| h.as_text())
            .unwrap_or_default()
            .trim()
            .to_string();
        arrivals.add(message.message_id().unwrap_or_default().to_string(), link);
    }
    arrivals
}

fn config(dir: &Path, feed: SocketAddr, receiver: &Receiver, smtp_port: u16) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            r#"
[fetch]
max_interval = "1s"

[delivery]
retry_base = "200ms"
retry_max = "1s"

[[feeds]]
name = "Wire"
url = "http://{feed}/wire.xml"
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
timeout = "10s"

[[destinations]]
name = "mail"
type = "email"
from = "newshound <alerts@example.org>"
to = ["desk@example.org"]
smtp = {{ host = "127.0.0.1", port = {smtp_port}, tls = "none", timeout = "10s" }}
"#,
            hook = receiver.url("/hook"),
        ),
    )
}

fn spawn_daemon(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(BIN)
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn the daemon")
}

/// Kills the daemon if the harness fails half-way, so no process outlives the test.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

/// Where a kill landed, as far as the harness can see from outside.
#[derive(Debug, Default)]
struct KillPhases {
    fetching: usize,
    delivering_webhook: usize,
    other: usize,
    /// How many kills interrupted a delivery of each (destination, key): it arrived during
    /// the run the kill ended, and the state database does not say it was sent.
    interrupted: BTreeMap<(String, String), usize>,
    /// Kills that interrupted a delivery.
    interrupting: usize,
    /// The most deliveries one kill interrupted.
    most_in_one_kill: usize,
}

/// The outbox key behind an arrival: the `webhook-id` itself, or the `Message-ID`'s local
/// part.
fn outbox_key(arrival: &str) -> &str {
    arrival
        .trim_matches(['<', '>'])
        .split('@')
        .next()
        .unwrap_or_default()
}

/// Whether the state database records `key` as sent (it may not exist yet: a kill before
/// the first start finished).
fn recorded_sent(db: &Path, key: &str) -> bool {
    newshound::store::Store::open_read_only(db)
        .ok()
        .and_then(|store| store.outbox_item(key).ok().flatten())
        .is_some_and(|item| item.status_text() == "sent")
}

#[test]
fn sigkill_at_random_moments_loses_no_alert_and_repeats_none_beyond_the_one_in_flight() {
    let kills: usize = std::env::var("NEWSHOUND_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_KILLS);
    let seed: u64 = std::env::var("NEWSHOUND_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(&dir.path().join("maildir"), Options::default());
    let receiver = Receiver::start_in_background();
    receiver.delay(Some(Duration::from_millis(150)));
    let publisher = Arc::new(Publisher::default());
    let feed = start_feed_server(publisher.clone());
    let config = config(dir.path(), feed, &receiver, smtp.port);
    let log = dir.path().join("daemon.log");

    // The publisher: a new matching entry every 100-400 ms until told to stop.
    let publishing = Arc::new(AtomicBool::new(true));
    let publisher_thread = {
        let publisher = publisher.clone();
        let publishing = publishing.clone();
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
        std::thread::spawn(move || {
            let mut n = 0;
            while publishing.load(Ordering::SeqCst) {
                n += 1;
                publisher.publish(n);
                std::thread::sleep(Duration::from_millis(rng.u64(100..400)));
            }
        })
    };

    let mut phases = KillPhases::default();
    let db = dir.path().join("state/newshound.db");
    let mut seen = [Arrivals::default(), Arrivals::default()];
    for _ in 0..kills {
        let mut daemon = Daemon(spawn_daemon(&config, &log));
        // From "before the database is open" to "several polls and deliveries in".
        let delay = Duration::from_millis(rng.u64(30..3000));
        std::thread::sleep(delay);
        if let Some(status) = daemon.0.try_wait().expect("wait") {
            panic!(
                "the daemon exited on its own with {status}; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        let fetching = publisher.in_flight.load(Ordering::SeqCst) > 0;
        let delivering = !receiver.in_flight().is_empty();
        // SAFETY: a signal to our own child process, which has not been reaped yet.
        unsafe { libc_kill(daemon.0.id() as i32, SIGKILL) };
        let _ = daemon.0.wait();
        let now = settled_arrivals(&receiver, &smtp);
        let mut interrupted_now = 0;
        for ((name, now), before) in ["hook", "mail"].iter().zip(&now).zip(&seen) {
            for (arrival, count) in &now.by_key {
                let key = outbox_key(arrival);
                if *count > before.by_key.get(arrival).copied().unwrap_or(0)
                    && !recorded_sent(&db, key)
                {
                    *phases
                        .interrupted
                        .entry((name.to_string(), arrival.clone()))
                        .or_default() += 1;
                    interrupted_now += 1;
                }
            }
        }
        seen = now;
        phases.interrupting += usize::from(interrupted_now > 0);
        phases.most_in_one_kill = phases.most_in_one_kill.max(interrupted_now);
        match (fetching, delivering) {
            (true, _) => phases.fetching += 1,
            (false, true) => phases.delivering_webhook += 1,
            (false, false) => phases.other += 1,
        }
    }
    publishing.store(false, Ordering::SeqCst);
    publisher_thread.join().expect("publisher");
    let published = publisher.published();

    // The final clean run: it must deliver everything still queued, and everything
    // published while the daemon was down.
    let drain_started = Instant::now();
    let mut daemon = Daemon(spawn_daemon(&config, &log));
    let complete = |a: &Arrivals| published.is_subset(&a.links);
    while !(complete(&webhook_arrivals(&receiver)) && complete(&email_arrivals(&smtp)))
        && drain_started.elapsed() < DRAIN_DEADLINE
    {
        assert!(
            daemon.0.try_wait().expect("wait").is_none(),
            "the daemon exited during the final run; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A little longer, so that a late repeat would still be counted.
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: a signal to our own child process, which has not been reaped yet.
    unsafe { libc_kill(daemon.0.id() as i32, SIGTERM) };
    let stopped = daemon.0.wait().expect("wait");
    let wall = started.elapsed();

    let hook = webhook_arrivals(&receiver);
    let mail = email_arrivals(&smtp);
    let state = newshound::store::Store::open_read_only(&db).expect("state database");
    let outbox = state.outbox_counts().expect("outbox");
    println!("crash harness (seed {seed}):");
    println!(
        "  kills:      {kills} (during a feed fetch {}, during a webhook delivery {}, elsewhere: polls, store writes, SMTP, idle {})",
        phases.fetching, phases.delivering_webhook, phases.other
    );
    println!("  published:  {} matching entries", published.len());
    for (name, arrivals) in [("webhook", &hook), ("email", &mail)] {
        println!(
            "  {name:8}    {} of {} entries delivered, {} deliveries, {} keys twice (resends {}), most deliveries of one key {}",
            published.intersection(&arrivals.links).count(),
            published.len(),
            arrivals.deliveries(),
            arrivals.repeated(),
            arrivals.resends(),
            arrivals.most()
        );
    }
    println!(
        "  interrupted: {} kills cut a delivery short (delivered, not yet recorded; at most {} per kill); {} keys cut short by more than one kill",
        phases.interrupting,
        phases.most_in_one_kill,
        phases.interrupted.values().filter(|&&n| n > 1).count()
    );
    println!(
        "  outbox:     {:?}",
        outbox
            .iter()
            .map(|(d, c)| (d.clone(), (c.queued, c.sent, c.dead, c.duplicates)))
            .collect::<BTreeMap<_, _>>()
    );
    println!(
        "  wall time:  {:.1} s (final drain {:.1} s)",
        wall.as_secs_f64(),
        drain_started.elapsed().as_secs_f64()
    );

    assert!(
        stopped.success(),
        "the final run stopped cleanly on SIGTERM"
    );
    for (name, arrivals) in [("webhook", &hook), ("email", &mail)] {
        let missing: Vec<&String> = published.difference(&arrivals.links).collect();
        assert!(
            missing.is_empty(),
            "{name}: {} published entries never delivered: {missing:?}",
            missing.len()
        );
        let unknown: Vec<&String> = arrivals.links.difference(&published).collect();
        assert!(
            unknown.is_empty(),
            "{name}: deliveries of unknown entries {unknown:?}"
        );
        assert_eq!(
            arrivals.by_key.len(),
            published.len(),
            "{name}: one idempotency key per published entry"
        );
    }
    for (name, arrivals) in [("hook", &hook), ("mail", &mail)] {
        for (key, count) in &arrivals.by_key {
            let interrupted = phases
                .interrupted
                .get(&(name.to_string(), key.clone()))
                .copied()
                .unwrap_or(0);
            assert!(
                *count <= 1 + interrupted,
                "{name}: {key} arrived {count} times, but only {interrupted} kills interrupted its delivery"
            );
        }
    }
    assert!(
        phases.most_in_one_kill <= 1,
        "one kill left {} deliveries unrecorded",
        phases.most_in_one_kill
    );
    // The worker sends one alert at a time, so a kill interrupts at most one delivery.
    assert!(
        hook.resends() + mail.resends() <= kills,
        "{} resends for {kills} kills",
        hook.resends() + mail.resends()
    );

    for destination in ["hook", "mail"] {
        let counts = outbox.get(destination).cloned().unwrap_or_default();
        assert_eq!(
            (counts.queued, counts.dead, counts.duplicates),
            (0, 0, 0),
            "{destination}: everything sent, nothing given up on or folded"
        );
        assert_eq!(counts.sent as usize, published.len(), "{destination}");
    }
}
