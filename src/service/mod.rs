//! Running as a service: the `newshound run` daemon's life cycle under systemd.
//!
//! Start: load the configuration, open the store, start the scheduler (and the optional
//! HTTP listener), then tell systemd `READY=1`. While running: `WATCHDOG=1` only while the
//! scheduler loop keeps turning and the store answers, and a `STATUS=` summary (feeds,
//! failing feeds, queued alerts). SIGHUP: `RELOADING=1`, parse and validate the whole new
//! configuration, swap it in or keep the old one and log every error with file:line:col,
//! then `READY=1`. SIGTERM/SIGINT: `STOPPING=1`, stop taking new work, let in-flight polls
//! and deliveries finish within the grace period, exit 0.

pub mod logging;
pub mod notify;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::{self, ConfigError};
use crate::observe::{self, HttpState};
use crate::scheduler::{self, Heartbeat, Pipeline, SetupError};
use crate::store::Store;

/// Exit status for configuration errors (sysexits.h `EX_CONFIG`).
const EX_CONFIG: i32 = 78;
/// Exit status when the state database cannot be used (sysexits.h `EX_CANTCREAT`).
const EX_CANTCREAT: i32 = 73;
/// Exit status when the HTTP listener cannot bind (sysexits.h `EX_UNAVAILABLE`).
const EX_UNAVAILABLE: i32 = 69;

/// How often the `STATUS=` line is refreshed (when it changed).
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// Runs the daemon until SIGTERM or SIGINT; returns the exit status.
pub fn run(config_path: &Path) -> anyhow::Result<i32> {
    let config = match config::load(config_path) {
        Ok(config) => config,
        Err(error) => {
            report_startup_config_error(&error);
            return Ok(EX_CONFIG);
        }
    };
    let store = match Store::open_dir(&config.state_dir) {
        Ok(store) => Arc::new(store),
        Err(error) => {
            logging::print_error_block(&format!("error: {error}"));
            return Ok(EX_CANTCREAT);
        }
    };
    let listen = config.http.listen;
    let pipeline = match Pipeline::new(config, store) {
        Ok(pipeline) => Arc::new(pipeline),
        Err(SetupError::Config(error)) => {
            report_startup_config_error(&error);
            return Ok(EX_CONFIG);
        }
        Err(error) => {
            logging::print_error_block(&format!("error: {error}"));
            return Ok(1);
        }
    };
    observe::config_loaded();
    let watchdog = notify::watchdog_interval();
    // The loop must turn well within half the watchdog period (the ping condition).
    let beat = watchdog.map_or(scheduler::DEFAULT_BEAT, |period| {
        (period / 4).min(scheduler::DEFAULT_BEAT)
    });
    tracing::info!(
        config = %config_path.display(),
        state = %pipeline.store.path().display(),
        watchdog = ?watchdog,
        "newshound {} starting", env!("CARGO_PKG_VERSION")
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let service = Service {
        config_path: config_path.to_path_buf(),
        heartbeat: Arc::new(Heartbeat::new(beat)),
        watchdog,
        note: Arc::new(Mutex::new(None)),
    };
    runtime.block_on(service.serve(pipeline, listen))
}

fn report_startup_config_error(error: &ConfigError) {
    if logging::journal_active() {
        logging::log_config_error(error);
    } else {
        logging::print_error_block(&error.to_string());
    }
}

/// What the running service shares between its tasks.
struct Service {
    config_path: PathBuf,
    heartbeat: Arc<Heartbeat>,
    watchdog: Option<Duration>,
    /// The outcome of the last reload, shown after the summary in `STATUS=`.
    note: Arc<Mutex<Option<String>>>,
}

/// What a signal asks for.
enum Request {
    Reload,
    PollNow,
    Stop,
}

#[cfg(unix)]
struct Signals {
    hangup: tokio::signal::unix::Signal,
    user1: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            hangup: signal(SignalKind::hangup())?,
            user1: signal(SignalKind::user_defined1())?,
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> Request {
        tokio::select! {
            _ = self.hangup.recv() => Request::Reload,
            _ = self.user1.recv() => Request::PollNow,
            _ = self.terminate.recv() => Request::Stop,
            _ = self.interrupt.recv() => Request::Stop,
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn next(&mut self) -> Request {
        let _ = tokio::signal::ctrl_c().await;
        Request::Stop
    }
}

impl Service {
    async fn serve(
        self,
        pipeline: Arc<Pipeline>,
        listen: Option<config::ListenAddr>,
    ) -> anyhow::Result<i32> {
        // Before READY: from now on SIGHUP reloads and SIGUSR1 polls instead of killing the
        // process.
        let mut signals = Signals::install()?;
        let (pipelines_tx, pipelines) = watch::channel(pipeline.clone());
        let (stop_tx, stop) = watch::channel(false);
        let http = match listen {
            None => None,
            Some(address) => {
                let state = HttpState {
                    pipelines: pipelines.clone(),
                    heartbeat: self.heartbeat.clone(),
                };
                match observe::serve(address.get(), state, stop.clone()).await {
                    Ok((bound, task)) => {
                        tracing::info!("serving /metrics, /healthz and /readyz on http://{bound}");
                        if !address.is_loopback() {
                            tracing::warn!(
                                "the HTTP listener on {bound} is reachable from other machines and has no authentication"
                            );
                        }
                        Some(task)
                    }
                    Err(error) => {
                        logging::print_error_block(&format!(
                            "error: cannot listen on {address}: {error} (choose a free port in `[http] listen`, or remove it)"
                        ));
                        return Ok(EX_UNAVAILABLE);
                    }
                }
            }
        };
        let poll_now = Arc::new(tokio::sync::Notify::new());
        let mut scheduler = tokio::spawn(scheduler::run_reloadable(
            pipelines.clone(),
            stop.clone(),
            self.heartbeat.clone(),
            poll_now.clone(),
        ));
        notify::ready(&self.status_line(&pipeline).await);
        let informer = tokio::spawn(keep_systemd_informed(
            pipelines.clone(),
            self.heartbeat.clone(),
            self.watchdog,
            self.note.clone(),
            stop.clone(),
        ));
        let mut stopping = false;
        let ended = loop {
            tokio::select! {
                request = signals.next() => match request {
                    Request::Reload => self.reload(&pipelines_tx).await,
                    Request::PollNow => poll_now.notify_one(),
                    Request::Stop => {
                        stopping = true;
                        notify::stopping();
                        tracing::info!("stop requested");
                        let _ = stop_tx.send(true);
                        break (&mut scheduler).await;
                    }
                },
                ended = &mut scheduler => break ended,
            }
        };
        if !stopping {
            notify::stopping();
            let _ = stop_tx.send(true);
        }
        let _ = informer.await;
        if let Some(http) = http {
            let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
        }
        match ended {
            Ok(Ok(())) if stopping => Ok(0),
            Ok(Ok(())) => {
                tracing::error!("the scheduler stopped on its own");
                Ok(1)
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "the scheduler stopped");
                Ok(EX_CANTCREAT)
            }
            Err(error) => {
                tracing::error!(%error, "the scheduler task failed");
                Ok(1)
            }
        }
    }

    async fn status_line(&self, pipeline: &Arc<Pipeline>) -> String {
        compose_status(pipeline.clone(), &self.note).await
    }

    /// Loads, validates and swaps in the configuration; on any error the running one stays.
    async fn reload(&self, pipelines: &watch::Sender<Arc<Pipeline>>) {
        notify::reloading();
        tracing::info!(config = %self.config_path.display(), "reloading configuration");
        let current = pipelines.borrow().clone();
        let path = self.config_path.clone();
        let built = tokio::task::spawn_blocking(move || build_pipeline(&path, &current)).await;
        let note = match built {
            Ok(Ok(pipeline)) => {
                let _ = pipelines.send(Arc::new(pipeline));
                observe::config_reload(true);
                tracing::info!("configuration reloaded");
                None
            }
            Ok(Err(SetupError::Config(error))) => {
                observe::config_reload(false);
                logging::log_config_error(&error);
                let count = error.diagnostics.len();
                tracing::error!(
                    "configuration not reloaded: {count} error{} (above); still running the previous configuration",
                    if count == 1 { "" } else { "s" }
                );
                Some(format!(
                    "last reload failed with {count} configuration error{}, running the previous configuration",
                    if count == 1 { "" } else { "s" }
                ))
            }
            Ok(Err(error)) => {
                observe::config_reload(false);
                tracing::error!(%error, "configuration not reloaded; still running the previous configuration");
                Some("last reload failed, running the previous configuration".to_string())
            }
            Err(error) => {
                observe::config_reload(false);
                tracing::error!(%error, "configuration reload task failed; still running the previous configuration");
                Some("last reload failed, running the previous configuration".to_string())
            }
        };
        if let Ok(mut slot) = self.note.lock() {
            *slot = note;
        }
        let pipeline = pipelines.borrow().clone();
        notify::ready(&self.status_line(&pipeline).await);
    }
}

/// Builds the pipeline of the configuration at `path` on the running store. What needs a
/// restart (`state_dir`, `[http] listen`) keeps its running value, with a warning.
fn build_pipeline(path: &Path, current: &Pipeline) -> Result<Pipeline, SetupError> {
    let mut config = config::load(path)?;
    if config.state_dir != current.config.state_dir {
        tracing::warn!(
            running = %current.config.state_dir.display(),
            configured = %config.state_dir.display(),
            "state_dir changed: it takes effect at the next restart"
        );
        config.state_dir = current.config.state_dir.clone();
    }
    if config.http.listen != current.config.http.listen {
        tracing::warn!("[http] listen changed: it takes effect at the next restart");
    }
    Pipeline::new(config, current.store.clone())
}

/// The summary line plus the note of the last reload, if it failed.
async fn compose_status(pipeline: Arc<Pipeline>, note: &Mutex<Option<String>>) -> String {
    let summary = tokio::task::spawn_blocking(move || {
        crate::status::summary_line(&pipeline.config, &pipeline.store)
    })
    .await;
    let mut line = match summary {
        Ok(Ok(line)) => line,
        Ok(Err(error)) => format!("state database not readable: {error}"),
        Err(error) => format!("status task failed: {error}"),
    };
    if let Some(note) = note.lock().ok().and_then(|n| n.clone()) {
        line.push_str("; ");
        line.push_str(&note);
    }
    line
}

/// Pings the watchdog while the scheduler is alive and the store answers, and keeps the
/// `STATUS=` line current, until `stop`.
async fn keep_systemd_informed(
    pipelines: watch::Receiver<Arc<Pipeline>>,
    heartbeat: Arc<Heartbeat>,
    watchdog: Option<Duration>,
    note: Arc<Mutex<Option<String>>>,
    mut stop: watch::Receiver<bool>,
) {
    let every = watchdog.map_or(STATUS_EVERY, |period| (period / 3).min(STATUS_EVERY));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_status = String::new();
    let mut last_status_at = Instant::now();
    let mut withholding = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
        let pipeline = pipelines.borrow().clone();
        if let Some(period) = watchdog {
            let store = pipeline.store.clone();
            let store_ok = matches!(
                tokio::task::spawn_blocking(move || store.ping()).await,
                Ok(Ok(()))
            );
            let alive = heartbeat.alive_within(period / 2);
            if watchdog_may_ping(&heartbeat, period, store_ok) {
                notify::watchdog();
                if withholding {
                    tracing::info!("scheduler responsive again; watchdog pings resumed");
                    withholding = false;
                }
            } else if !withholding {
                tracing::error!(
                    scheduler_alive = alive,
                    store_answers = store_ok,
                    "withholding the watchdog ping: systemd will restart the service if this lasts"
                );
                withholding = true;
            }
        }
        let line = compose_status(pipeline, &note).await;
        if line != last_status || last_status_at.elapsed() >= STATUS_EVERY {
            notify::status(&line);
            last_status = line;
            last_status_at = Instant::now();
        }
    }
}

/// The watchdog condition: the scheduler loop turned within half the watchdog period and
/// the store answers. A separate "always ping" task would defeat the purpose.
fn watchdog_may_ping(heartbeat: &Heartbeat, period: Duration, store_answers: bool) -> bool {
    store_answers && heartbeat.alive_within(period / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_fed_only_by_a_turning_scheduler_and_an_answering_store() {
        let period = Duration::from_millis(200);
        let heartbeat = Heartbeat::new(period / 4);
        assert!(!watchdog_may_ping(&heartbeat, period, true), "never turned");
        heartbeat.beat();
        assert!(watchdog_may_ping(&heartbeat, period, true));
        assert!(!watchdog_may_ping(&heartbeat, period, false), "store down");
        std::thread::sleep(Duration::from_millis(150));
        assert!(!watchdog_may_ping(&heartbeat, period, true), "stuck loop");
    }
}
