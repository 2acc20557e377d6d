//! Canonical story URLs: the same article reached through different links (tracking
//! parameters, fragments, AMP pages and caches, mobile hosts, `http`/`https`, `www.`) gets
//! one key, so it alerts once.

use url::Url;

/// Query parameters that only track the reader, never select content.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "mkt_tok",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "ref_src",
    "ref_url",
    "cmpid",
    "ocid",
    "ncid",
    "sr_share",
    "spm",
    "vero_id",
    "oly_enc_id",
    "oly_anon_id",
    "rb_clickid",
    "s_cid",
    "at_medium",
    "at_campaign",
    "amp",
    "amp_js_v",
    "usqp",
    "outputtype",
    "__twitter_impression",
];

/// Host prefixes of alternative renderings of the same site.
const VARIANT_HOST_PREFIXES: &[&str] = &["www.", "m.", "mobile.", "amp."];

/// The canonical form of an article URL, or `None` when it is not an absolute http(s) URL.
pub fn canonical_url(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    if let Some(unwrapped) = unwrap_amp_cache(&url) {
        url = unwrapped;
    }
    let _ = url.set_scheme("https");
    if url.port() == Some(443) || url.port() == Some(80) {
        let _ = url.set_port(None);
    }
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if let Some(host) = url.host_str().map(str::to_ascii_lowercase) {
        let mut host = host.trim_end_matches('.').to_string();
        loop {
            let stripped = VARIANT_HOST_PREFIXES.iter().find_map(|prefix| {
                host.strip_prefix(prefix)
                    .filter(|rest| rest.contains('.'))
                    .map(str::to_string)
            });
            match stripped {
                Some(rest) => host = rest,
                None => break,
            }
        }
        let _ = url.set_host(Some(&host));
    }
    let path = canonical_path(url.path());
    url.set_path(&path);
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| {
            let key = key.to_ascii_lowercase();
            !key.starts_with("utm_") && !TRACKING_PARAMS.contains(&key.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    if params.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(params);
    }
    Some(url.to_string())
}

/// `https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a` → the original.
fn unwrap_amp_cache(url: &Url) -> Option<Url> {
    let host = url.host_str()?;
    if !host.ends_with(".cdn.ampproject.org") && host != "cdn.ampproject.org" {
        return None;
    }
    let path = url.path();
    let rest = ["/c/s/", "/v/s/", "/i/s/", "/c/", "/v/", "/i/"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))?;
    let secure = path.contains("/s/");
    let rebuilt = format!(
        "{}://{}{}",
        if secure { "https" } else { "http" },
        rest,
        url.query().map(|q| format!("?{q}")).unwrap_or_default()
    );
    Url::parse(&rebuilt).ok()
}

fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // /amp/... and .../amp are AMP renderings of the same article.
    if segments.first() == Some(&"amp") && segments.len() > 1 {
        segments.remove(0);
    }
    if segments.last() == Some(&"amp") && segments.len() > 1 {
        segments.pop();
    }
    let mut joined = segments.join("/");
    for (amp, plain) in [(".amp.html", ".html"), (".amp.htm", ".htm"), (".amp", "")] {
        if let Some(stem) = joined.strip_suffix(amp) {
            joined = format!("{stem}{plain}");
            break;
        }
    }
    format!("/{joined}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(link: &str) -> String {
        canonical_url(link).unwrap_or_default()
    }

    #[test]
    fn variants_of_one_article_share_a_key() {
        let plain = canon("https://news.example/world/2026/11/27/rutte-talks");
        for variant in [
            "http://news.example/world/2026/11/27/rutte-talks",
            "https://www.news.example/world/2026/11/27/rutte-talks/",
            "https://m.news.example/world/2026/11/27/rutte-talks",
            "https://NEWS.example:443/world/2026/11/27/rutte-talks#comments",
            "https://news.example/world/2026/11/27/rutte-talks?utm_source=rss&utm_medium=feed",
            "https://news.example/world/2026/11/27/rutte-talks?fbclid=abc&gclid=def",
            "https://news.example/world/2026/11/27/rutte-talks/amp",
            "https://news.example/amp/world/2026/11/27/rutte-talks",
            "https://amp.news.example/world/2026/11/27/rutte-talks",
            "https://news-example.cdn.ampproject.org/c/s/news.example/world/2026/11/27/rutte-talks",
        ] {
            assert_eq!(canon(variant), plain, "{variant}");
        }
        assert_eq!(
            canon("https://news.example/a.amp.html"),
            canon("https://news.example/a.html")
        );
    }

    #[test]
    fn content_parameters_are_kept_in_a_stable_order() {
        assert_eq!(
            canon("https://news.example/article.php?id=7&utm_campaign=x&lang=uk"),
            canon("https://news.example/article.php?lang=uk&id=7")
        );
        assert_ne!(
            canon("https://news.example/article.php?id=7"),
            canon("https://news.example/article.php?id=8")
        );
        assert!(canonical_url("mailto:desk@example.org").is_none());
        assert!(canonical_url("not a url").is_none());
    }
}
