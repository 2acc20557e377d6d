//! The private-address guard (SSRF protection).
//!
//! Article links come from untrusted feeds: a feed could point newshound at the admin
//! interface of a router, a cloud metadata service or a database on loopback. So requests go
//! only to public unicast addresses unless the configuration allow-lists a network or a host
//! name (`[fetch] allow_private`). The check runs in three places, because each alone can be
//! bypassed:
//!
//! - on the URL of every request and every redirect hop ([`Guard::check_url`]): scheme and
//!   IP-literal hosts, which the HTTP client connects to without asking any resolver (the
//!   `url` crate has already normalised decimal, octal and hex IPv4 forms to dotted quads);
//! - in the DNS resolver the client uses ([`GuardedResolver`]): names are resolved here and
//!   non-public addresses dropped, so the connection goes to exactly the addresses that were
//!   checked (no window for DNS rebinding);
//! - no proxy is ever used implicitly (a proxy would resolve names itself).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Marker in resolver errors, so that fetch errors can be classified as blocked.
pub const BLOCKED_MARKER: &str = "refused by the private-address guard";

/// One `allow_private` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// A network in CIDR notation (a bare address is a /32 or /128).
    Network(IpNet),
    /// A host name; its subdomains are allowed too.
    Host(String),
}

impl Allowed {
    /// Parses an `allow_private` entry: `"10.1.2.0/24"`, `"127.0.0.1"`, `"::1/128"` or
    /// `"intranet.example"`.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        if let Ok(network) = entry.parse::<IpNet>() {
            return Ok(Allowed::Network(network.trunc()));
        }
        if let Ok(address) = entry.parse::<IpAddr>() {
            return Ok(Allowed::Network(IpNet::from(address)));
        }
        if entry.contains('/') {
            return Err(format!("{entry:?} is not a valid CIDR network"));
        }
        let host = entry.trim_end_matches('.').to_ascii_lowercase();
        let valid = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if valid {
            Ok(Allowed::Host(host))
        } else {
            Err(format!(
                "{entry:?} is neither a CIDR network nor a host name"
            ))
        }
    }
}

/// Decides which addresses and hosts may be contacted.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allowed: Vec<Allowed>,
}

impl Guard {
    /// A guard that refuses every non-public address except the allow-listed ones.
    pub fn new(allowed: Vec<Allowed>) -> Self {
        Self { allowed }
    }

    /// Builds the guard from `allow_private` entries as written in the configuration.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        entries
            .into_iter()
            .map(Allowed::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    /// Whether a connection to `address` is allowed.
    pub fn allows_address(&self, address: IpAddr) -> bool {
        if is_public(address) {
            return true;
        }
        let unmapped = embedded_ipv4(address).map(IpAddr::V4);
        self.allowed.iter().any(|allowed| match allowed {
            Allowed::Network(network) => {
                network.contains(&address) || unmapped.is_some_and(|v4| network.contains(&v4))
            }
            Allowed::Host(_) => false,
        })
    }

    /// Whether `host` (a name) is allow-listed, so that it may resolve to any address.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed.iter().any(|allowed| match allowed {
            Allowed::Host(name) => {
                host == *name
                    || host
                        .strip_suffix(name.as_str())
                        .is_some_and(|prefix| prefix.ends_with('.'))
            }
            Allowed::Network(_) => false,
        })
    }

    /// Checks a URL before a request (or a redirect hop): http(s) only, and an IP-literal
    /// host must be allowed. Names are checked when they are resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{url}: only http and https URLs are fetched"));
        }
        let address = match url.host() {
            None => return Err(format!("{url}: the URL has no host")),
            Some(Host::Domain(name)) => {
                // Not an IP literal for the `url` crate; it still may be one in a form it
                // leaves alone (for non-special schemes). Be safe.
                match name.trim_matches(['[', ']']).parse::<IpAddr>() {
                    Ok(address) => address,
                    Err(_) => return Ok(()),
                }
            }
            Some(Host::Ipv4(address)) => IpAddr::V4(address),
            Some(Host::Ipv6(address)) => IpAddr::V6(address),
        };
        if self.allows_address(address) {
            Ok(())
        } else {
            Err(format!(
                "{url}: {address} is a private, loopback or otherwise non-public address, {BLOCKED_MARKER} (allow it with [fetch] allow_private)"
            ))
        }
    }
}

/// Whether an address is public unicast: not loopback, private (RFC 1918), shared (CGNAT),
/// link-local, unique-local, unspecified, multicast, broadcast, documentation or reserved,
/// looking through IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 forms.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_ipv4(IpAddr::V6(v6)) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    let blocked = a == 0                                   // "this network", unspecified
        || a == 10                                         // private
        || (a == 100 && (64..128).contains(&b))            // shared address space (CGNAT)
        || a == 127                                        // loopback
        || (a == 169 && b == 254)                          // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))             // private
        || (a == 192 && b == 0 && c == 0)                  // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)                  // documentation
        || (a == 192 && b == 168)                          // private
        || (a == 198 && (b == 18 || b == 19))              // benchmarking
        || (a == 198 && b == 51 && c == 100)               // documentation
        || (a == 203 && b == 0 && c == 113)                // documentation
        || a >= 224; // multicast, reserved, broadcast
    !blocked
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    let segments = address.segments();
    let blocked = address.is_unspecified()
        || address.is_loopback()
        || (segments[0] & 0xfe00) == 0xfc00                // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80                // link-local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0                // site-local (deprecated)
        || (segments[0] & 0xff00) == 0xff00                // multicast
        || (segments[0] == 0x2001 && segments[1] == 0x0db8); // documentation
    !blocked
}

/// The IPv4 address inside an IPv6 one: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
fn embedded_ipv4(address: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = address else {
        return None;
    };
    let s = v6.segments();
    let low =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        return Some(low(s[6], s[7]));
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !(s[6] == 0 && s[7] <= 1) {
        return Some(low(s[6], s[7]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(low(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(low(s[1], s[2]));
    }
    None
}

/// The DNS resolver of the HTTP client: resolves with the system resolver and keeps only
/// the addresses the guard allows; a name left with none fails with [`BLOCKED_MARKER`].
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    guard: Arc<Guard>,
}

impl GuardedResolver {
    /// A resolver enforcing `guard`.
    pub fn new(guard: Arc<Guard>) -> Self {
        Self { guard }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if guard.allows_host(&host) {
                let addrs: Addrs = Box::new(resolved.into_iter());
                return Ok(addrs);
            }
            let total = resolved.len();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| guard.allows_address(a.ip()))
                .collect();
            if allowed.is_empty() && total > 0 {
                let message = format!(
                    "{host} resolves only to private, loopback or other non-public addresses, {BLOCKED_MARKER} (allow it with [fetch] allow_private)"
                );
                return Err(message.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for blocked in [
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.7",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(blocked)), "{blocked} should be refused");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(public)), "{public} should be allowed");
        }
    }

    #[test]
    fn ip_literal_urls_in_every_spelling_are_checked() {
        let guard = Guard::default();
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1./",
            "http://0/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://[0:0:0:0:0:ffff:7f00:1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[fd00::1]/",
        ] {
            let parsed = Url::parse(url).expect("url");
            let error = guard.check_url(&parsed).expect_err(url);
            assert!(error.contains(BLOCKED_MARKER), "{error}");
        }
        assert!(
            guard
                .check_url(&Url::parse("ftp://example.org/").expect("url"))
                .is_err()
        );
        assert!(
            guard
                .check_url(&Url::parse("https://example.org/a").expect("url"))
                .is_ok()
        );
    }

    #[test]
    fn the_allow_list_takes_networks_addresses_and_host_names() {
        let guard = Guard::from_entries(["127.0.0.1/32", "10.1.2.0/24", "Intranet.Example"])
            .expect("valid entries");
        assert!(guard.allows_address(ip("127.0.0.1")));
        assert!(guard.allows_address(ip("::ffff:127.0.0.1")));
        assert!(!guard.allows_address(ip("127.0.0.2")));
        assert!(guard.allows_address(ip("10.1.2.200")));
        assert!(!guard.allows_address(ip("10.1.3.1")));
        assert!(guard.allows_host("intranet.example"));
        assert!(guard.allows_host("wiki.intranet.example."));
        assert!(!guard.allows_host("notintranet.example"));
        assert!(Guard::from_entries(["10.0.0.0/33"]).is_err());
        assert!(Guard::from_entries(["not a host"]).is_err());
    }
}
