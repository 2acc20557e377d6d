//! The file destination: alerts due together are appended together, in order, with one
//! sync, and a failed append leaves every one of them queued (none lost, none doubled).

mod common;

use std::time::Duration;

use common::write_config;
use newshound::store::Store;

fn queue(store: &Store, start: jiff::Timestamp, numbers: std::ops::Range<usize>) {
    for n in numbers {
        common::enqueue_sample_alert(store, "local", start, n);
    }
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("json line");
            value["id"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_due_together_are_appended_in_order_and_a_failed_append_keeps_them_queued() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        "[delivery]\nretry_base = \"1s\"\nretry_max = \"2s\"\n\n[[destinations]]\nname = \"local\"\ntype = \"file\"\npath = \"alerts.jsonl\"\n",
    );
    let file = dir.path().join("state").join("alerts.jsonl");
    let common::ClockedDelivery {
        store,
        start,
        clock,
        deliverer,
    } = common::clocked_delivery(&config);

    // Five alerts due together: appended in the order they were queued.
    queue(&store, start, 0..5);
    let first = deliverer.deliver_due(&store).await.expect("pass");
    assert_eq!((first.sent, first.retried, first.dead), (5, 0, 0));
    let expected: Vec<String> = (0..5).map(|n| format!("nh_alert_{n}")).collect();
    assert_eq!(lines(&file), expected);

    // The file cannot be written (a directory stands in its way): all five stay queued.
    std::fs::rename(&file, dir.path().join("first.jsonl")).expect("move");
    std::fs::create_dir_all(&file).expect("block the file");
    queue(&store, start, 5..10);
    let failed = deliverer.deliver_due(&store).await.expect("pass");
    assert_eq!((failed.sent, failed.retried, failed.dead), (0, 5, 0));

    // Fixed: at the retry, each of the five is appended exactly once (retries are spread
    // out, so their order is the order of their retry times).
    std::fs::remove_dir(&file).expect("unblock");
    clock.advance(Duration::from_secs(3));
    let retried = deliverer.deliver_due(&store).await.expect("pass");
    assert_eq!((retried.sent, retried.retried, retried.dead), (5, 0, 0));
    let mut appended = lines(&file);
    appended.sort();
    let expected: Vec<String> = (5..10).map(|n| format!("nh_alert_{n}")).collect();
    assert_eq!(appended, expected);

    // Nothing is due any more.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(deliverer.deliver_due(&store).await.expect("pass").sent, 0);
    assert_eq!(lines(&file).len(), 5);
}
