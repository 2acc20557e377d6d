//! Byte → UTF-8 transcoding for documents fetched from the web.
//!
//! This module owns the decision "which character set are these bytes in" for XML feeds
//! ([`decode_xml`]) and HTML pages ([`decode_html`]), and the decoding itself. The order
//! of evidence is: byte-order mark, UTF-16/32 byte pattern, the HTTP `Content-Type`
//! charset, the in-document declaration (XML declaration, `<meta charset>`,
//! `<meta http-equiv>`), and finally a statistical detector (`chardetng`) for bytes that
//! are undeclared or are not valid in the declared charset. A legacy label (say
//! windows-1251) on bytes that are valid UTF-8 throughout, multi-byte sequences included,
//! loses to UTF-8: that combination is a stale label, never real legacy text. UTF-32, which
//! `encoding_rs` does not support, is decoded by hand.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// How the character set of a document was determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// A byte-order mark at the start of the bytes.
    Bom,
    /// The NUL-byte pattern of UTF-16 or UTF-32 text without a byte-order mark.
    Sniffed,
    /// The `charset` parameter of the HTTP `Content-Type` header.
    Http,
    /// The `encoding` pseudo-attribute of the XML declaration.
    XmlDeclaration,
    /// An HTML `<meta charset>` or `<meta http-equiv="Content-Type">` element.
    Meta,
    /// The statistical detector, because nothing was declared or the bytes were not
    /// valid in the declared charset.
    Detected,
    /// Nothing was declared and the bytes are valid UTF-8.
    Default,
}

/// A document transcoded to UTF-8.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    /// The text. For XML, a byte-order mark is removed and the declaration's `encoding`
    /// pseudo-attribute says `utf-8`, so the text can be handed to any UTF-8 XML parser.
    /// Borrowed from the bytes when they were already that text (valid UTF-8, nothing to
    /// rewrite): the common case is then no copy of the document.
    pub text: Cow<'a, str>,
    /// The encoding the bytes were decoded from. `encoding_rs` has no UTF-32, so for
    /// UTF-32 input this is UTF-8 (the form of [`Decoded::text`]); see [`Decoded::name`].
    pub encoding: &'static Encoding,
    /// Canonical name of the charset the bytes were in (e.g. `windows-1251`, `UTF-32LE`).
    pub name: &'static str,
    /// What decided the charset.
    pub source: How,
    /// Whether some bytes were malformed in the chosen charset and became U+FFFD.
    pub had_errors: bool,
}

/// How far into an HTML document `<meta>` charset declarations are looked for when the
/// `</head>` is not found earlier. Pages with large inline scripts or styles in the head
/// put the declaration far beyond the 1 KiB that browsers pre-scan.
const HTML_HEAD_SCAN_LIMIT: usize = 1 << 20;

/// How many bytes the detector sees. Enough for a stable guess on any real document,
/// bounded so that a huge body does not make detection the dominant cost.
const DETECTOR_INPUT_LIMIT: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wide {
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

/// Decodes the bytes of an XML document (a feed) to UTF-8.
///
/// `http_content_type` is the raw HTTP `Content-Type` header value, if the bytes came over
/// HTTP; its `charset` parameter overrides the XML declaration (RFC 7303).
pub fn decode_xml<'a>(bytes: &'a [u8], http_content_type: Option<&str>) -> Decoded<'a> {
    let mut decoded = decode_common(bytes, http_content_type, |ascii| {
        xml_declared_encoding(ascii).map(|label| (label, How::XmlDeclaration))
    });
    if let Cow::Owned(text) = rewrite_xml_declaration(&decoded.text) {
        decoded.text = Cow::Owned(text);
    }
    decoded
}

/// Decodes the bytes of an HTML page to UTF-8.
///
/// After the byte-order mark and the HTTP charset, the whole `<head>` is searched for
/// `<meta charset>` and `<meta http-equiv="Content-Type" content="...; charset=...">`.
pub fn decode_html<'a>(bytes: &'a [u8], http_content_type: Option<&str>) -> Decoded<'a> {
    decode_common(bytes, http_content_type, |ascii| {
        html_meta_charset(ascii)
            .map(|label| (label, How::Meta))
            .or_else(|| xml_declared_encoding(ascii).map(|label| (label, How::XmlDeclaration)))
    })
}

fn decode_common<'a>(
    bytes: &'a [u8],
    http_content_type: Option<&str>,
    declared: impl Fn(&'a [u8]) -> Option<(&'a [u8], How)>,
) -> Decoded<'a> {
    if let Some((wide, bom_len)) = sniff_bom(bytes) {
        return decode_wide(&bytes[bom_len..], wide, How::Bom);
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return decode_with(&bytes[3..], UTF_8, How::Bom);
    }
    if let Some(wide) = sniff_wide(bytes) {
        return decode_wide(bytes, wide, How::Sniffed);
    }

    let http_label = http_content_type.and_then(charset_param);
    let candidates = http_label
        .map(|label| (label, How::Http))
        .into_iter()
        .chain(declared(bytes));
    for (label, how) in candidates {
        let Some(encoding) = encoding_for_label(label) else {
            continue;
        };
        if encoding == UTF_16LE || encoding == UTF_16BE {
            // The bytes have no UTF-16 shape (checked above), so the label is wrong; a
            // document saying "utf-16" in ASCII bytes is really in an ASCII-compatible set.
            continue;
        }
        if encoding != UTF_8 && is_utf8_with_multibyte(bytes) {
            // A legacy label on bytes that are entirely valid UTF-8 and use multi-byte
            // sequences: the label is a leftover (a CMS template saying windows-1251 over
            // a UTF-8 database). Text in a legacy charset practically never forms valid
            // UTF-8 throughout, while decoding UTF-8 as, say, windows-1251 would turn every
            // Cyrillic letter into two ("Р“РµРЅ…"), since single-byte charsets accept any
            // byte.
            return decode_with(bytes, UTF_8, How::Detected);
        }
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        if !had_errors {
            return Decoded {
                text,
                encoding,
                name: encoding.name(),
                source: how,
                had_errors,
            };
        }
        if encoding == UTF_8 && mostly_utf8(bytes) {
            // A few stray bytes in a UTF-8 document: keep the declared charset.
            return decode_with(bytes, UTF_8, how);
        }
        // Invalid as declared: the label is probably a template default (very often
        // "utf-8" on cp1251/cp1252 sites). Let the detector decide among the others.
        return detect(bytes, false);
    }

    if Encoding::utf8_valid_up_to(bytes) == bytes.len() {
        return decode_with(bytes, UTF_8, How::Default);
    }
    if mostly_utf8(bytes) {
        return decode_with(bytes, UTF_8, How::Detected);
    }
    detect(bytes, false)
}

/// Whether the bytes are entirely valid UTF-8 and contain at least one multi-byte sequence
/// (pure ASCII reads the same in every ASCII-compatible charset, so it decides nothing).
fn is_utf8_with_multibyte(bytes: &[u8]) -> bool {
    !bytes.is_ascii() && Encoding::utf8_valid_up_to(bytes) == bytes.len()
}

/// Whether bytes that are not entirely valid UTF-8 are still UTF-8 with a few corrupt
/// bytes: valid multi-byte sequences outnumber the invalid ones. Legacy 8-bit text almost
/// never forms valid multi-byte UTF-8 sequences by accident.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut multibyte, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        if !chunk.invalid().is_empty() {
            invalid += 1;
        }
    }
    multibyte > invalid.saturating_mul(2)
}

fn decode_with<'a>(bytes: &'a [u8], encoding: &'static Encoding, how: How) -> Decoded<'a> {
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    Decoded {
        text,
        encoding,
        name: encoding.name(),
        source: how,
        had_errors,
    }
}

fn detect(bytes: &[u8], allow_utf8: bool) -> Decoded<'_> {
    let mut detector = chardetng::EncodingDetector::new();
    let sample = &bytes[..bytes.len().min(DETECTOR_INPUT_LIMIT)];
    detector.feed(sample, sample.len() == bytes.len());
    let encoding = detector.guess(None, allow_utf8);
    let mut decoded = decode_with(bytes, encoding, How::Detected);
    if decoded.had_errors && encoding != WINDOWS_1252 {
        // A multi-byte guess that does not fit the bytes is worse than windows-1252,
        // which maps every byte to some character.
        let fallback = decode_with(bytes, WINDOWS_1252, How::Detected);
        if !fallback.had_errors {
            decoded = fallback;
        }
    }
    decoded
}

/// Finds a byte-order mark for UTF-16/32 (UTF-8's is handled by the caller).
fn sniff_bom(bytes: &[u8]) -> Option<(Wide, usize)> {
    // UTF-32LE's BOM starts with UTF-16LE's, so it must be tested first.
    if bytes.starts_with(b"\xFF\xFE\x00\x00") {
        Some((Wide::Utf32Le, 4))
    } else if bytes.starts_with(b"\x00\x00\xFE\xFF") {
        Some((Wide::Utf32Be, 4))
    } else if bytes.starts_with(b"\xFF\xFE") {
        Some((Wide::Utf16Le, 2))
    } else if bytes.starts_with(b"\xFE\xFF") {
        Some((Wide::Utf16Be, 2))
    } else {
        None
    }
}

/// Recognises UTF-16/32 without a BOM from where the NUL bytes fall in the first code
/// units: XML and HTML start with ASCII markup, whose wide forms have NULs in fixed lanes,
/// while ASCII-compatible charsets never contain NUL in a text document.
fn sniff_wide(bytes: &[u8]) -> Option<Wide> {
    let head = &bytes[..bytes.len().min(64)];
    if head.len() < 4 {
        return None;
    }
    let units32 = head.len() / 4;
    let lane_nuls32 = |lane: usize| (0..units32).filter(|i| head[i * 4 + lane] == 0).count();
    if lane_nuls32(1) == units32 && lane_nuls32(2) == units32 && lane_nuls32(3) == units32 {
        return Some(Wide::Utf32Le);
    }
    if lane_nuls32(0) == units32 && lane_nuls32(1) == units32 && lane_nuls32(2) == units32 {
        return Some(Wide::Utf32Be);
    }
    let units16 = head.len() / 2;
    let even = (0..units16).filter(|i| head[i * 2] == 0).count();
    let odd = (0..units16).filter(|i| head[i * 2 + 1] == 0).count();
    // Most, not all, units must fit: non-ASCII characters have no NUL byte.
    let mostly = |n: usize| n * 4 >= units16 * 3;
    if mostly(even) && odd == 0 {
        Some(Wide::Utf16Be)
    } else if mostly(odd) && even == 0 {
        Some(Wide::Utf16Le)
    } else {
        None
    }
}

fn decode_wide(bytes: &[u8], wide: Wide, how: How) -> Decoded<'_> {
    match wide {
        Wide::Utf16Le => decode_with(bytes, UTF_16LE, how),
        Wide::Utf16Be => decode_with(bytes, UTF_16BE, how),
        Wide::Utf32Le | Wide::Utf32Be => {
            let mut text = String::with_capacity(bytes.len() / 4);
            let mut had_errors = bytes.len() % 4 != 0;
            for unit in bytes.chunks_exact(4) {
                let quad = [unit[0], unit[1], unit[2], unit[3]];
                let value = if wide == Wide::Utf32Le {
                    u32::from_le_bytes(quad)
                } else {
                    u32::from_be_bytes(quad)
                };
                match char::from_u32(value) {
                    Some(c) => text.push(c),
                    None => {
                        had_errors = true;
                        text.push(char::REPLACEMENT_CHARACTER);
                    }
                }
            }
            if let Some(stripped) = text.strip_prefix('\u{FEFF}') {
                text = stripped.to_string();
            }
            Decoded {
                text: Cow::Owned(text),
                encoding: UTF_8,
                name: if wide == Wide::Utf32Le {
                    "UTF-32LE"
                } else {
                    "UTF-32BE"
                },
                source: how,
                had_errors,
            }
        }
    }
}

/// Maps a charset label to an encoding: the WHATWG labels, plus the spellings that Python
/// and Java codecs accept and that appear in real feeds (`utf_8`, `cp1251`, `cp932`...).
fn encoding_for_label(label: &[u8]) -> Option<&'static Encoding> {
    let label = std::str::from_utf8(label).ok()?.trim();
    if label.is_empty() {
        return None;
    }
    if let Some(encoding) = Encoding::for_label_no_replacement(label.as_bytes()) {
        return Some(encoding);
    }
    let lower = label.to_ascii_lowercase().replace('_', "-");
    if let Some(encoding) = Encoding::for_label_no_replacement(lower.as_bytes()) {
        return Some(encoding);
    }
    let alias = match lower.as_str() {
        "cp932" | "ms932" | "sjis" | "shift-jis" | "x-sjis" => "shift_jis",
        "cp936" | "ms936" => "gbk",
        "cp949" | "ms949" | "uhc" | "euckr" => "euc-kr",
        "cp950" | "ms950" | "big5hkscs" => "big5",
        "eucjp" | "ujis" => "euc-jp",
        "latin-1" | "iso8859-1" | "8859-1" | "iso-latin-1" | "ascii" | "ansi" => "windows-1252",
        "utf8" => "utf-8",
        "tis620" => "tis-620",
        "koi8r" => "koi8-r",
        "koi8u" => "koi8-u",
        other => {
            if let Some(number) = other
                .strip_prefix("cp")
                .or_else(|| other.strip_prefix("win-"))
                .or_else(|| other.strip_prefix("windows"))
                .filter(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()))
            {
                return Encoding::for_label_no_replacement(format!("windows-{number}").as_bytes());
            }
            if let Some(rest) = other.strip_prefix("iso8859-") {
                return Encoding::for_label_no_replacement(format!("iso-8859-{rest}").as_bytes());
            }
            return None;
        }
    };
    Encoding::for_label_no_replacement(alias.as_bytes())
}

/// Extracts the `charset` parameter of a `Content-Type` value.
fn charset_param(content_type: &str) -> Option<&[u8]> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then_some(value.as_bytes())
    })
}

/// The `encoding` label of an XML declaration at the start of ASCII-compatible bytes.
fn xml_declared_encoding(bytes: &[u8]) -> Option<&[u8]> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &bytes[start..];
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = find(rest, b"?>").unwrap_or(rest.len().min(512));
    attribute_value(&rest[5..end], b"encoding")
}

/// Finds attribute `name` (ASCII case-insensitively) in the bytes of a tag and returns
/// its value, quoted or not. Values are skipped as a whole, so a name inside another
/// attribute's value (`content="...; charset=x"`) is not mistaken for an attribute.
fn attribute_value<'a>(tag: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < tag.len() && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    while i < tag.len() {
        i = skip_ws(i);
        let name_start = i;
        while i < tag.len() && !tag[i].is_ascii_whitespace() && !matches!(tag[i], b'=' | b'>') {
            i += 1;
        }
        let attr_name = &tag[name_start..i];
        i = skip_ws(i);
        // Empty, but inside `tag`, so callers may locate it by address.
        let mut value: &[u8] = &tag[i..i];
        if tag.get(i) == Some(&b'=') {
            i = skip_ws(i + 1);
            match tag.get(i) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let value_start = i + 1;
                    let len = tag[value_start..]
                        .iter()
                        .position(|&b| b == quote)
                        .unwrap_or(tag.len() - value_start);
                    value = &tag[value_start..value_start + len];
                    i = value_start + len + 1;
                }
                _ => {
                    let value_start = i;
                    while i < tag.len() && !tag[i].is_ascii_whitespace() && tag[i] != b'>' {
                        i += 1;
                    }
                    value = &tag[value_start..i];
                }
            }
        }
        if attr_name.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        if attr_name.is_empty() {
            // A stray `=` or `>`; step over it so the scan always advances.
            i += 1;
        }
    }
    None
}

/// The charset declared by a `<meta>` element in the head of an HTML document.
fn html_meta_charset(bytes: &[u8]) -> Option<&[u8]> {
    let limit = bytes.len().min(HTML_HEAD_SCAN_LIMIT);
    let head_end = find_ignore_case(&bytes[..limit], b"</head")
        .or_else(|| find_ignore_case(&bytes[..limit], b"<body"))
        .unwrap_or(limit);
    let head = &bytes[..head_end];
    let mut from = 0;
    while let Some(pos) = find_ignore_case(&head[from..], b"<meta") {
        let start = from + pos;
        let end = head[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(head.len(), |e| start + e);
        let tag = &head[start + 5..end];
        from = end;
        if let Some(label) = attribute_value(tag, b"charset") {
            return Some(label);
        }
        let is_content_type = attribute_value(tag, b"http-equiv")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"content-type"));
        if is_content_type
            && let Some(content) = attribute_value(tag, b"content")
            && let Ok(content) = std::str::from_utf8(content)
            && let Some(label) = charset_in_content(content)
        {
            return Some(label.as_bytes());
        }
    }
    None
}

/// `text/html; charset=windows-1251` → `windows-1251`, for `<meta content>` values, where
/// the parameter is not always preceded by `;`.
fn charset_in_content(content: &str) -> Option<&str> {
    let lower = content.to_ascii_lowercase();
    let at = lower.find("charset")?;
    let rest = content[at + "charset".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let rest = rest.trim_start_matches(['"', '\'']);
    let end = rest
        .find(|c: char| c == ';' || c == '"' || c == '\'' || c.is_whitespace())
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// Removes a leading U+FEFF and makes the XML declaration say `encoding="utf-8"`, so
/// that a parser reading the UTF-8 text does not try to decode it a second time.
fn rewrite_xml_declaration(text: &str) -> Cow<'_, str> {
    let body = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let lead = body.len() - body.trim_start().len();
    let rest = &body[lead..];
    let is_declaration = rest.starts_with("<?xml")
        && rest[5..].starts_with(|c: char| c.is_ascii_whitespace() || c == '?');
    if !is_declaration {
        return if body.len() == text.len() {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(body.to_string())
        };
    }
    // An unterminated declaration ends at the first `>` at the latest.
    let decl_end = rest
        .find("?>")
        .map(|e| e + 2)
        .or_else(|| rest.find('>').map(|e| e + 1))
        .unwrap_or(rest.len());
    let decl = &rest[..decl_end];
    let Some(label) = attribute_value(&decl.as_bytes()[5..], b"encoding") else {
        return if body.len() == text.len() {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(body[lead..].to_string())
        };
    };
    if label.eq_ignore_ascii_case(b"utf-8") && body.len() == text.len() {
        return Cow::Borrowed(text);
    }
    // `label` borrows from `decl`, so its offset locates the value to replace.
    let value_start = (label.as_ptr() as usize).wrapping_sub(decl.as_ptr() as usize);
    let value_end = value_start.wrapping_add(label.len());
    let (Some(before), Some(after)) = (decl.get(..value_start), decl.get(value_end..)) else {
        return Cow::Owned(body[lead..].to_string());
    };
    let mut out = String::with_capacity(body.len());
    out.push_str(before);
    out.push_str("utf-8");
    out.push_str(after);
    out.push_str(&rest[decl_end..]);
    Cow::Owned(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UKRAINIAN: &str = "Україна: «Євроінтеграція» — новини";

    fn rss(decl: Option<&str>, title: &str) -> String {
        let decl = decl.map_or(String::new(), |d| {
            format!("<?xml version=\"1.0\" encoding=\"{d}\"?>")
        });
        format!("{decl}<rss version=\"2.0\"><channel><title>{title}</title></channel></rss>")
    }

    fn encode(text: &str, encoding: &'static Encoding) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding.encode(text);
        assert!(!unmappable, "test text must be representable");
        bytes.into_owned()
    }

    #[test]
    fn utf8_text_is_borrowed_and_other_text_is_decoded() {
        let utf8 = rss(Some("utf-8"), UKRAINIAN);
        let decoded = decode_xml(utf8.as_bytes(), None);
        assert!(matches!(decoded.text, Cow::Borrowed(_)));
        assert_eq!(decoded.text, utf8);
        // A declaration naming another charset is rewritten, so the text is a new one.
        let cp1251 = encode(
            &rss(Some("windows-1251"), UKRAINIAN),
            encoding_rs::WINDOWS_1251,
        );
        let decoded = decode_xml(&cp1251, None);
        assert!(matches!(decoded.text, Cow::Owned(_)));
        assert_eq!(decoded.text, rss(Some("utf-8"), UKRAINIAN));
    }

    #[test]
    fn undeclared_cp1251_is_detected() {
        let bytes = encode(&rss(None, UKRAINIAN), encoding_rs::WINDOWS_1251);
        let decoded = decode_xml(&bytes, None);
        assert_eq!(decoded.encoding, encoding_rs::WINDOWS_1251);
        assert_eq!(decoded.source, How::Detected);
        assert!(decoded.text.contains(UKRAINIAN));
    }

    #[test]
    fn cp1251_mislabelled_as_utf8_is_detected() {
        let bytes = encode(&rss(Some("utf-8"), UKRAINIAN), encoding_rs::WINDOWS_1251);
        let decoded = decode_xml(&bytes, None);
        assert!(decoded.text.contains(UKRAINIAN));
    }

    #[test]
    fn undeclared_koi8r_is_detected() {
        let text = "Как пережить новогоднюю ночь и не потерять голову от радости";
        let bytes = encode(&rss(None, text), encoding_rs::KOI8_R);
        let decoded = decode_xml(&bytes, None);
        assert!(decoded.text.contains(text), "{}", decoded.text);
    }

    #[test]
    fn declared_koi8u_and_declaration_rewritten() {
        let title = "Україна: Євроінтеграція, новини";
        let bytes = encode(&rss(Some("koi8-u"), title), encoding_rs::KOI8_U);
        let decoded = decode_xml(&bytes, None);
        assert_eq!(decoded.source, How::XmlDeclaration);
        assert!(decoded.text.contains(title));
        assert!(
            decoded
                .text
                .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>")
        );
    }

    #[test]
    fn http_charset_overrides_declaration() {
        let bytes = encode(&rss(Some("iso-8859-5"), "café"), WINDOWS_1252);
        let decoded = decode_xml(&bytes, Some("text/xml; charset=\"windows-1252\""));
        assert_eq!(decoded.source, How::Http);
        assert!(decoded.text.contains("café"));
    }

    #[test]
    fn utf16_with_and_without_bom() {
        let doc = rss(Some("utf-16"), UKRAINIAN);
        let be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        for (bytes, how) in [
            ([&b"\xFE\xFF"[..], &be].concat(), How::Bom),
            ([&b"\xFF\xFE"[..], &le].concat(), How::Bom),
            (be.clone(), How::Sniffed),
            (le.clone(), How::Sniffed),
        ] {
            let decoded = decode_xml(&bytes, None);
            assert_eq!(decoded.source, how);
            assert!(
                decoded
                    .text
                    .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>")
            );
            assert!(decoded.text.contains(UKRAINIAN));
        }
    }

    #[test]
    fn utf32_is_hand_decoded() {
        let doc = rss(Some("utf-32"), UKRAINIAN);
        let le: Vec<u8> = std::iter::once('\u{FEFF}')
            .chain(doc.chars())
            .flat_map(|c| u32::from(c).to_le_bytes())
            .collect();
        let decoded = decode_xml(&le, None);
        assert_eq!(decoded.name, "UTF-32LE");
        assert!(decoded.text.contains(UKRAINIAN));
        let be: Vec<u8> = doc
            .chars()
            .flat_map(|c| u32::from(c).to_be_bytes())
            .collect();
        let decoded = decode_xml(&be, None);
        assert_eq!(decoded.name, "UTF-32BE");
        assert!(decoded.text.contains(UKRAINIAN));
    }

    #[test]
    fn utf8_bom_is_removed() {
        let bytes = [&b"\xEF\xBB\xBF"[..], rss(None, UKRAINIAN).as_bytes()].concat();
        let decoded = decode_xml(&bytes, None);
        assert!(decoded.text.starts_with("<rss"));
    }

    #[test]
    fn html_meta_charset_beyond_first_kilobyte() {
        let head = format!(
            "<html><head><script>{}</script><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\"></head><body>{}</body></html>",
            "x".repeat(4000),
            "Україна"
        );
        let bytes = encode(&head, encoding_rs::WINDOWS_1251);
        let decoded = decode_html(&bytes, None);
        assert_eq!(decoded.source, How::Meta);
        assert!(decoded.text.contains("Україна"));
        let short = encode("<meta charset='koi8-u'><p>Україна</p>", encoding_rs::KOI8_U);
        assert!(decode_html(&short, None).text.contains("Україна"));
    }

    #[test]
    fn utf8_bytes_under_a_legacy_label_decode_as_utf8() {
        let page = format!(
            "<html><head><meta charset=\"windows-1251\"><title>{UKRAINIAN}</title></head><body><p>Генсек НАТО заявив</p></body></html>"
        );
        let decoded = decode_html(page.as_bytes(), None);
        assert_eq!(decoded.encoding, UTF_8);
        assert!(decoded.text.contains(UKRAINIAN), "{}", decoded.text);
        assert!(!decoded.text.contains("Р“"), "no mojibake");
        // The same lie in the HTTP header, and in an XML declaration.
        let plain = format!("<html><body><p>{UKRAINIAN}</p></body></html>");
        let decoded = decode_html(plain.as_bytes(), Some("text/html; charset=windows-1251"));
        assert!(decoded.text.contains(UKRAINIAN), "{}", decoded.text);
        let decoded = decode_html(plain.as_bytes(), Some("text/html; charset=koi8-r"));
        assert!(decoded.text.contains(UKRAINIAN), "{}", decoded.text);
        let feed = rss(Some("windows-1251"), UKRAINIAN);
        let decoded = decode_xml(feed.as_bytes(), None);
        assert!(decoded.text.contains(UKRAINIAN), "{}", decoded.text);
        assert!(
            decoded.text.contains("encoding=\"utf-8\""),
            "{}",
            decoded.text
        );
        // Real windows-1251 bytes under the same label still decode as windows-1251, and
        // pure ASCII under a legacy label keeps the label.
        let bytes = encode(&page, encoding_rs::WINDOWS_1251);
        let decoded = decode_html(&bytes, None);
        assert_eq!(decoded.encoding, encoding_rs::WINDOWS_1251);
        assert!(decoded.text.contains(UKRAINIAN));
        let ascii = decode_html(b"<meta charset=\"windows-1251\"><p>NATO</p>", None);
        assert_eq!(ascii.encoding, encoding_rs::WINDOWS_1251);
        assert_eq!(ascii.source, How::Meta);
    }

    #[test]
    fn broken_declarations_do_not_panic() {
        for doc in [
            "<?xml version=\"1.0\"?\n<!-- encoding == 'x' -->\n<rss/>",
            "<?xml encoding?><rss/>",
            "<?xml encoding=",
            "<?xml",
        ] {
            let decoded = decode_xml(doc.as_bytes(), None);
            assert!(decoded.text.contains("rss") || doc.len() < 20, "{doc}");
        }
    }

    #[test]
    fn label_aliases() {
        assert_eq!(
            encoding_for_label(b"cp1251"),
            Some(encoding_rs::WINDOWS_1251)
        );
        assert_eq!(encoding_for_label(b"UTF_8"), Some(UTF_8));
        assert_eq!(encoding_for_label(b"cp932"), Some(encoding_rs::SHIFT_JIS));
        assert_eq!(
            encoding_for_label(b"iso8859_5"),
            Some(encoding_rs::ISO_8859_5)
        );
        assert_eq!(encoding_for_label(b"no-such-charset"), None);
    }
}
