//! The compiled rules of a pipeline, or their compilation still running on a thread of its
//! own: compiling thousands of rules takes longer than the rest of start-up, and the first
//! requests of a cycle need no rules, only the entries that come back do. A single cycle
//! checks its rules at once (every mistake a user can make in them is found there) but builds
//! their automaton, the costly part, only when an entry needs evaluating: a cycle where every
//! feed answers 304 never does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::config::{Config, ConfigError, Diagnostic};
use crate::rules::RuleSet;

/// What a compilation gives: the rules, or every problem found in them.
pub type Compiled = Result<Arc<RuleSet>, Arc<ConfigError>>;

/// What checking gives: nothing, or every problem found in the rules.
pub type Checked = Result<(), Arc<ConfigError>>;

/// The rules, compiled or compiling; clones share one compilation.
#[derive(Clone)]
pub struct Rules(State);

#[derive(Clone)]
enum State {
    Ready(Arc<RuleSet>),
    Deferred(Arc<Deferred>),
}

/// Rules checked (or being checked) on their own thread, built once demanded.
struct Deferred {
    checked: Shared<BoxFuture<'static, Checked>>,
    compiled: Shared<BoxFuture<'static, Compiled>>,
    /// Tells the thread to build; dropping it (the cycle is over) lets the thread end.
    demand: mpsc::SyncSender<()>,
    demanded: AtomicBool,
}

impl Rules {
    /// Rules compiled already.
    pub fn ready(rules: RuleSet) -> Self {
        Self(State::Ready(Arc::new(rules)))
    }

    /// Starts checking the rules of `config` on a thread of its own; the same thread builds
    /// them once [`Rules::get`] or [`Rules::demand`] asks for them.
    pub fn check_in_background(config: Arc<Config>) -> Self {
        let (checked_sender, checked_receiver) = tokio::sync::oneshot::channel::<Checked>();
        let (compiled_sender, compiled_receiver) = tokio::sync::oneshot::channel();
        let (demand, demanded_receiver) = mpsc::sync_channel::<()>(1);
        let path = config.path.clone();
        // Should the thread not start, its closure and the senders in it are dropped, and
        // both receivers report the loss.
        let _ = std::thread::Builder::new()
            .name("compile-rules".into())
            .spawn(move || {
                // A receiver may be gone (the cycle was abandoned): nothing to tell then.
                match RuleSet::check(&config) {
                    Err(error) => {
                        let error = Arc::new(error);
                        let _ = checked_sender.send(Err(error.clone()));
                        let _ = compiled_sender.send(Err(error));
                    }
                    Ok(checked) => {
                        let _ = checked_sender.send(Ok(()));
                        // An error here means every handle is gone without asking.
                        if demanded_receiver.recv().is_ok() {
                            let built = checked.build().map(Arc::new).map_err(Arc::new);
                            let _ = compiled_sender.send(built);
                        }
                    }
                }
            });
        let lost = move || {
            Arc::new(ConfigError {
                diagnostics: vec![Diagnostic::whole_file(
                    &path,
                    "the rules could not be compiled: the compiling thread failed (a bug; please report it with this configuration)".to_string(),
                    None,
                )],
            })
        };
        let lost_too = lost.clone();
        let checked = async move { checked_receiver.await.unwrap_or_else(|_| Err(lost())) };
        let compiled = async move { compiled_receiver.await.unwrap_or_else(|_| Err(lost_too())) };
        Self(State::Deferred(Arc::new(Deferred {
            checked: checked.boxed().shared(),
            compiled: compiled.boxed().shared(),
            demand,
            demanded: AtomicBool::new(false),
        })))
    }

    /// Asks for the rules to be built, without waiting for them: called as soon as some entry
    /// will need them, so building overlaps fetching its article.
    pub fn demand(&self) {
        if let State::Deferred(deferred) = &self.0
            && !deferred.demanded.swap(true, Ordering::AcqRel)
        {
            // Full only if already asked; an error only if the thread is gone, which the
            // compiled future then reports.
            let _ = deferred.demand.try_send(());
        }
    }

    /// Whether the rules were asked for (and so are built, or being built).
    pub fn demanded(&self) -> bool {
        match &self.0 {
            State::Ready(_) => true,
            State::Deferred(deferred) => deferred.demanded.load(Ordering::Acquire),
        }
    }

    /// Whether the rules passed their checks (at once when they are compiled).
    pub async fn checked(&self) -> Checked {
        match &self.0 {
            State::Ready(_) => Ok(()),
            State::Deferred(deferred) => deferred.checked.clone().await,
        }
    }

    /// The rules, once compiled (at once when they are); asks for them to be built.
    pub async fn get(&self) -> Compiled {
        match &self.0 {
            State::Ready(rules) => Ok(rules.clone()),
            State::Deferred(deferred) => {
                self.demand();
                deferred.compiled.clone().await
            }
        }
    }

    /// The rules if their compilation has finished, succeeded and been awaited.
    pub fn if_ready(&self) -> Option<Arc<RuleSet>> {
        match &self.0 {
            State::Ready(rules) => Some(rules.clone()),
            State::Deferred(deferred) => match deferred.compiled.peek() {
                Some(Ok(rules)) => Some(rules.clone()),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rules: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("newshound.toml");
        std::fs::write(&path, format!("state_dir = \"state\"\n{rules}")).expect("write");
        let config = crate::config::load(&path).expect("config");
        (dir, config)
    }

    #[tokio::test]
    async fn compiled_rules_are_there_at_once_and_deferred_ones_once_asked_for() {
        let (_dir, config) = config("[[rules]]\nname = \"a\"\nkeywords = [\"peace\"]\n");
        let ready = Rules::ready(RuleSet::compile(&config).expect("rules"));
        assert_eq!(ready.if_ready().map(|r| r.len()), Some(1));
        assert!(ready.checked().await.is_ok());
        let deferred = Rules::check_in_background(Arc::new(config));
        assert!(deferred.checked().await.is_ok());
        assert!(!deferred.demanded(), "checking alone builds nothing");
        assert!(deferred.if_ready().is_none());
        let other = deferred.clone();
        assert_eq!(deferred.get().await.map(|r| r.len()).ok(), Some(1));
        assert!(other.demanded(), "clones share one compilation");
        assert_eq!(other.if_ready().map(|r| r.len()), Some(1));
    }

    #[tokio::test]
    async fn rules_asked_for_without_waiting_are_built() {
        let (_dir, config) = config("[[rules]]\nname = \"a\"\nkeywords = [\"peace\"]\n");
        let deferred = Rules::check_in_background(Arc::new(config));
        deferred.demand();
        deferred.demand(); // a second request changes nothing
        assert!(deferred.demanded());
        assert_eq!(deferred.get().await.map(|r| r.len()).ok(), Some(1));
    }

    #[tokio::test]
    async fn a_problem_in_the_rules_reaches_every_waiter_from_the_checks() {
        let (_dir, config) = config(
            "[[rules]]\nname = \"a\"\nkeywords = [\"peace\"]\nspeakers = [\"person:nobody\"]\n",
        );
        let deferred = Rules::check_in_background(Arc::new(config));
        let other = deferred.clone();
        for rules in [deferred, other] {
            let error = rules.checked().await.expect_err("an error");
            assert!(error.to_string().contains("nobody"), "{error}");
            let error = rules.get().await.err().expect("an error");
            assert!(error.to_string().contains("nobody"), "{error}");
            assert!(rules.if_ready().is_none());
        }
    }
}
