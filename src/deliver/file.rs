//! The `file` destination: appends each alert as one JSON object per line to a local file,
//! flushed to disk before the alert counts as delivered.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{DeliveryError, Receipt};
use crate::alerts::Alert;

/// Default file name inside the state directory.
pub const DEFAULT_FILE: &str = "alerts.jsonl";

/// Where a file destination writes: relative paths resolve against the state directory.
pub fn resolve_path(state_dir: &Path, configured: Option<&Path>) -> PathBuf {
    match configured {
        Some(path) if path.is_absolute() => path.to_path_buf(),
        Some(path) => state_dir.join(path),
        None => state_dir.join(DEFAULT_FILE),
    }
}

/// Appends alerts to a JSON-lines file.
pub struct FileSink {
    path: PathBuf,
    // Serialises writers so lines never interleave.
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl FileSink {
    /// A sink writing to `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the alert and syncs the file.
    pub async fn deliver(&self, alert: &Alert) -> Result<Receipt, DeliveryError> {
        let line = Self::line(alert)?;
        self.append_lines(line).await
    }

    /// The line an alert is written as (JSON and a line break).
    pub fn line(alert: &Alert) -> Result<Vec<u8>, DeliveryError> {
        let mut line = serde_json::to_vec(alert)
            .map_err(|e| DeliveryError::permanent(format!("cannot encode alert: {e}")))?;
        line.push(b'\n');
        Ok(line)
    }

    /// Appends lines made by [`FileSink::line`], in order, and syncs the file once: one
    /// sync for many alerts instead of one each. Either all of them are on disk when this
    /// returns `Ok`, or the error applies to all of them.
    pub async fn append_lines(&self, lines: Vec<u8>) -> Result<Receipt, DeliveryError> {
        let path = self.path.clone();
        let _guard = self.lock.lock().await;
        tokio::task::spawn_blocking(move || append_durably(&path, &lines))
            .await
            .map_err(|e| DeliveryError::temporary(format!("writer task failed: {e}")))?
            .map_err(|e| {
                DeliveryError::temporary(format!("cannot append to {}: {e}", self.path.display()))
            })
            .map(|()| Receipt {
                answer: format!("appended to {}", self.path.display()),
            })
    }
}

fn append_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_data()
}
