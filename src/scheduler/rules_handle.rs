//! The compiled rules of a pipeline, or their compilation still running on a thread of its
//! own: compiling thousands of rules takes longer than the rest of start-up, and the first
//! requests of a cycle need no rules, only the entries that come back do.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::config::{Config, ConfigError, Diagnostic};
use crate::rules::RuleSet;

/// What a compilation gives: the rules, or every problem found in them.
pub type Compiled = Result<Arc<RuleSet>, Arc<ConfigError>>;

/// The rules, compiled or compiling; clones share one compilation.
#[derive(Clone)]
pub struct Rules(State);

#[derive(Clone)]
enum State {
    Ready(Arc<RuleSet>),
    Compiling(Shared<BoxFuture<'static, Compiled>>),
}

impl Rules {
    /// Rules compiled already.
    pub fn ready(rules: RuleSet) -> Self {
        Self(State::Ready(Arc::new(rules)))
    }

    /// Starts compiling the rules of `config` on a thread of its own.
    pub fn compile_in_background(config: Arc<Config>) -> Self {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let path = config.path.clone();
        let spawned = std::thread::Builder::new()
            .name("compile-rules".into())
            .spawn(move || {
                // The receiver may be gone (the cycle was abandoned): nothing to tell then.
                let _ = sender.send(RuleSet::compile(&config));
            });
        let compiled = async move {
            let lost = || {
                Arc::new(ConfigError {
                    diagnostics: vec![Diagnostic::whole_file(
                        &path,
                        "the rules could not be compiled: the compiling thread failed (a bug; please report it with this configuration)".to_string(),
                        None,
                    )],
                })
            };
            if spawned.is_err() {
                return Err(lost());
            }
            match receiver.await {
                Ok(Ok(rules)) => Ok(Arc::new(rules)),
                Ok(Err(error)) => Err(Arc::new(error)),
                Err(_) => Err(lost()),
            }
        };
        Self(State::Compiling(compiled.boxed().shared()))
    }

    /// The rules, once compiled (at once when they are).
    pub async fn get(&self) -> Compiled {
        match &self.0 {
            State::Ready(rules) => Ok(rules.clone()),
            State::Compiling(compiling) => compiling.clone().await,
        }
    }

    /// The rules if their compilation has finished, succeeded and been awaited.
    pub fn if_ready(&self) -> Option<Arc<RuleSet>> {
        match &self.0 {
            State::Ready(rules) => Some(rules.clone()),
            State::Compiling(compiling) => match compiling.peek() {
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
    async fn compiled_rules_are_there_at_once_and_compiling_ones_once_awaited() {
        let (_dir, config) = config("[[rules]]\nname = \"a\"\nkeywords = [\"peace\"]\n");
        let ready = Rules::ready(RuleSet::compile(&config).expect("rules"));
        assert_eq!(ready.if_ready().map(|r| r.len()), Some(1));
        let compiling = Rules::compile_in_background(Arc::new(config));
        assert_eq!(compiling.get().await.map(|r| r.len()).ok(), Some(1));
        assert_eq!(compiling.clone().if_ready().map(|r| r.len()), Some(1));
    }

    #[tokio::test]
    async fn a_compilation_error_reaches_every_waiter() {
        let (_dir, config) = config(
            "[[rules]]\nname = \"a\"\nkeywords = [\"peace\"]\nspeakers = [\"person:nobody\"]\n",
        );
        let compiling = Rules::compile_in_background(Arc::new(config));
        let other = compiling.clone();
        for rules in [compiling, other] {
            let error = rules.get().await.err().expect("an error");
            assert!(error.to_string().contains("nobody"), "{error}");
            assert!(rules.if_ready().is_none());
        }
    }
}
