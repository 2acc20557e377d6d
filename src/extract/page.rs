//! Getting a page's bytes: from a file (gzip-compressed or not) or over HTTP.

use std::io::Read;
use std::path::Path;

/// Reads an HTML file, decompressing it when it is gzip-compressed (by content, not name).
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let bytes = std::fs::read(path)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut decoded = Vec::with_capacity(bytes.len() * 4);
        flate2::read::MultiGzDecoder::new(bytes.as_slice()).read_to_end(&mut decoded)?;
        return Ok(decoded);
    }
    Ok(bytes)
}
