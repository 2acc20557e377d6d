//! The `[http]` section: the optional local HTTP listener for `/metrics`, `/healthz` and
//! `/readyz`. It is off unless `listen` is set, and a bare port binds to 127.0.0.1 only.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::{Deserialize, Deserializer};

/// Settings of the observability listener (`[http]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Where to serve `/metrics`, `/healthz` and `/readyz`; no listener when unset.
    pub listen: Option<ListenAddr>,
}

/// A socket address to listen on: `"127.0.0.1:9184"`, `"[::1]:9184"`, `"localhost:9184"`,
/// or a bare port (`"9184"` or `9184`), which means 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

/// What a valid listen address looks like, for error messages.
const LISTEN_HELP: &str =
    "expected \"127.0.0.1:9184\", \"[::1]:9184\", \"localhost:9184\" or a port number";

impl ListenAddr {
    /// The address.
    pub fn get(self) -> SocketAddr {
        self.0
    }

    /// Whether only this machine can connect.
    pub fn is_loopback(self) -> bool {
        self.0.ip().is_loopback()
    }

    /// Parses the forms described on the type.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(Self(address));
        }
        let port_text = text.strip_prefix("localhost:").unwrap_or(text);
        match port_text.parse::<u16>() {
            Ok(port) => Ok(Self(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))),
            Err(_) => Err(format!("invalid listen address {text:?}; {LISTEN_HELP}")),
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Port(u16),
            Text(String),
        }
        match Written::deserialize(deserializer) {
            Ok(Written::Port(port)) => {
                Ok(Self(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)))
            }
            Ok(Written::Text(text)) => Self::parse(&text).map_err(serde::de::Error::custom),
            Err(_) => Err(serde::de::Error::custom(format!(
                "invalid listen address; {LISTEN_HELP}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_binds_loopback_only() {
        let parsed = ListenAddr::parse("9184").expect("port");
        assert_eq!(parsed.to_string(), "127.0.0.1:9184");
        assert!(parsed.is_loopback());
        let parsed = ListenAddr::parse("localhost:9000").expect("localhost");
        assert_eq!(parsed.to_string(), "127.0.0.1:9000");
        assert_eq!(
            ListenAddr::parse("[::1]:9184").expect("v6").to_string(),
            "[::1]:9184"
        );
        assert!(
            !ListenAddr::parse("0.0.0.0:9184")
                .expect("any")
                .is_loopback()
        );
        let error = ListenAddr::parse("metrics.example:80").expect_err("hostname");
        assert!(error.contains("expected \"127.0.0.1:9184\""), "{error}");
    }
}
