//! TLS settings for the HTTP client: the verifier of the platform (the system's trusted
//! roots), built once per process.
//!
//! Reading and parsing the system's CA certificates takes a few milliseconds (some hundred
//! files on a Debian system) before the first request can go out; [`preload`] starts it on a
//! thread of its own so that it overlaps with reading the configuration, and every client
//! built later in the process (configuration reloads included) shares the result. A
//! certificate installed while the daemon runs is trusted after its next restart.

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;

/// The TLS client settings, or why they could not be built (kept as text: the error is
/// reported by every client built afterwards).
static CLIENT_SETTINGS: OnceLock<Result<ClientConfig, String>> = OnceLock::new();

/// Starts building the TLS settings on a thread of its own, if nobody has yet. Harmless to
/// call more than once or not at all: [`client_settings`] builds them itself if needed and
/// waits for a build in progress.
pub fn preload() {
    if CLIENT_SETTINGS.get().is_some() {
        return;
    }
    // If no thread can be started, the first client builds the settings itself.
    let _ = std::thread::Builder::new()
        .name("tls-roots".into())
        .spawn(|| {
            let _ = client_settings();
        });
}

/// The TLS settings every client of the process uses: TLS 1.2 and 1.3, certificates checked
/// by the platform verifier against the system's trusted roots, HTTP/2 or HTTP/1.1 offered
/// by ALPN (what reqwest sets up by default, built ahead of time).
pub(crate) fn client_settings() -> Result<ClientConfig, String> {
    CLIENT_SETTINGS.get_or_init(build).clone()
}

fn build() -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| format!("cannot load the system's trusted certificates: {e}"))?;
    let mut settings = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous() // not dangerous: the platform verifier checks certificates fully
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    settings.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_offer_both_http_versions_and_are_shared() {
        preload();
        let first = client_settings().expect("TLS settings");
        assert_eq!(
            first.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let second = client_settings().expect("TLS settings");
        // Built once: both are copies of one build (the same provider, the same verifier).
        assert!(Arc::ptr_eq(
            first.crypto_provider(),
            second.crypto_provider()
        ));
    }
}
