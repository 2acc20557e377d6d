//! Webhook signatures per the Standard Webhooks specification: the headers `webhook-id`
//! (the alert's idempotency key, the same on every retry), `webhook-timestamp` (unix seconds
//! of the attempt) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of
//! `"{id}.{timestamp}.{body}"`, keyed with the base64-decoded part of a `whsec_` secret).
//! Optionally also GitHub's `X-Hub-Signature-256`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Signs webhook requests with one secret.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(…)")
    }
}

impl Signer {
    /// A signer for a `whsec_…` secret (24–64 random bytes, base64).
    pub fn new(secret: &str) -> Result<Self, String> {
        let encoded = secret
            .trim()
            .strip_prefix("whsec_")
            .ok_or_else(|| "the secret does not start with \"whsec_\"".to_string())?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|e| format!("the part after \"whsec_\" is not base64: {e}"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!(
                "the key is {} bytes; it must be 24 to 64 bytes",
                key.len()
            ));
        }
        Ok(Self { key })
    }

    /// The `webhook-signature` value for one request.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
            // HMAC accepts keys of any length; this cannot happen.
            return String::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// Checks a `webhook-signature` header (any of its space-separated `v1,` entries) in
    /// constant time — what a receiver does.
    pub fn verify(&self, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        header.split(' ').any(|entry| {
            let Some(encoded) = entry.strip_prefix("v1,") else {
                return false;
            };
            let Ok(expected) = STANDARD.decode(encoded) else {
                return false;
            };
            let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
                return false;
            };
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&expected).is_ok()
        })
    }
}

/// GitHub-style `X-Hub-Signature-256` value: `sha256=` + hex HMAC-SHA256 of the body.
pub fn github_signature(key: &[u8], body: &[u8]) -> String {
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector of the Standard Webhooks reference libraries.
    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TIMESTAMP: i64 = 1_649_367_553;
    const BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;

    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        let signer = Signer::new(SECRET).expect("valid secret");
        let signature = signer.sign(ID, TIMESTAMP, BODY.as_bytes());
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        assert!(signer.verify(
            ID,
            TIMESTAMP,
            BODY.as_bytes(),
            &format!("v1,bogus {signature}")
        ));
        assert!(!signer.verify(ID, TIMESTAMP + 1, BODY.as_bytes(), &signature));
        assert!(!signer.verify(ID, TIMESTAMP, b"{}", &signature));
    }

    #[test]
    fn matches_the_github_test_vector() {
        assert_eq!(
            github_signature(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn bad_secrets_are_refused_with_a_reason() {
        assert!(Signer::new("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_err());
        assert!(Signer::new("whsec_not base64!").is_err());
        assert!(
            Signer::new("whsec_c2hvcnQ=").is_err(),
            "5 bytes is too short"
        );
    }
}
