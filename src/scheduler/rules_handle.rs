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
pub struct Rules(Shared<BoxFuture<'static, Compiled>>);

impl Rules {
    /// Rules compiled already.
    pub fn ready(rules: RuleSet) -> Self {
        Self(
            futures_util::future::ready(Ok(Arc::new(rules)))
                .boxed()
                .shared(),
        )
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
        Self(compiled.boxed().shared())
    }

    /// The rules, once compiled (at once when they are).
    pub async fn get(&self) -> Compiled {
        self.0.clone().await
    }

    /// The rules if their compilation has finished and succeeded.
    pub fn if_ready(&self) -> Option<Arc<RuleSet>> {
        match self.0.peek() {
            Some(Ok(rules)) => Some(rules.clone()),
            _ => None,
        }
    }
}
