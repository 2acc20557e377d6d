//! Saying what a response that did not parse as a feed is instead, so that the failure
//! logged for the feed tells the administrator what to fix ("the URL is the site's web
//! page", "the server sent nothing") rather than only what the parser choked on.

/// A short description of a response body that is not a feed, from its status, content
/// type and first bytes; `None` when it looks like a (broken) feed after all.
pub fn describe_non_feed(body: &[u8], content_type: Option<&str>, status: u16) -> Option<String> {
    let media_type = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty());
    let labelled = |what: &str| match &media_type {
        Some(media_type) => format!("{what} ({media_type}, {} bytes)", body.len()),
        None => format!("{what} ({} bytes)", body.len()),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(if status == 204 {
            "HTTP 204 No Content: the server sent no document".to_string()
        } else if body.is_empty() {
            format!("the server sent an empty body (HTTP {status})")
        } else {
            format!("the server sent only whitespace (HTTP {status})")
        });
    }
    let head = &body[..body.len().min(1024)];
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    let trimmed = lower.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let magic: &[(&[u8], &str)] = &[
        (b"%PDF-", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"PK\x03\x04", "a ZIP archive"),
        (
            b"\x1f\x8b",
            "gzip-compressed data the server did not declare",
        ),
    ];
    if let Some((_, what)) = magic.iter().find(|(m, _)| body.starts_with(m)) {
        return Some(labelled(what));
    }
    let is_html_type = matches!(
        media_type.as_deref(),
        Some("text/html" | "application/xhtml+xml")
    );
    let looks_like_html = trimmed.starts_with("<!doctype html")
        || trimmed.starts_with("<html")
        || (is_html_type && !trimmed.starts_with("<?xml") && !trimmed.contains("<rss"));
    if looks_like_html {
        return Some(labelled(
            "an HTML page, not a feed; the URL may be the site's web page rather than its feed (look for a <link rel=\"alternate\"> in it)",
        ));
    }
    // Binary: after decoding (UTF-16 text has NUL bytes but is text), more than one
    // character in ten is a control character or undecodable.
    let text = crate::charset::decode_xml(head, None).text;
    let (mut chars, mut odd) = (0usize, 0usize);
    for c in text.chars() {
        chars += 1;
        if (c.is_control() && !c.is_whitespace()) || c == char::REPLACEMENT_CHARACTER {
            odd += 1;
        }
    }
    if odd * 10 > chars {
        return Some(labelled("binary data"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_non_feed_is() {
        let say = |body: &[u8], content_type: Option<&str>, status| {
            describe_non_feed(body, content_type, status).unwrap_or_default()
        };
        assert!(say(b"", None, 204).contains("204 No Content"));
        assert!(say(b"", Some("application/rss+xml"), 200).contains("empty body"));
        assert!(
            say(b"%PDF-1.7 ...", Some("application/pdf"), 200)
                .starts_with("a PDF document (application/pdf, 12 bytes)")
        );
        assert!(
            say(
                b"<!DOCTYPE html><html>",
                Some("text/html; charset=utf-8"),
                200
            )
            .contains("HTML page")
        );
        assert!(
            say(b"\x00\x01\x02\x03\x04\x05\xff\xfe\x00\x80", None, 200).starts_with("binary data")
        );
        assert_eq!(
            describe_non_feed(b"<rss><channel>", Some("text/html"), 200),
            None
        );
        assert_eq!(
            describe_non_feed(b"<?xml version=\"1.0\"?><feed>", None, 200),
            None
        );
    }
}
