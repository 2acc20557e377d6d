//! Configuration diagnostics: every problem found in a config file, with the file, line,
//! column, the offending line and what was expected, rendered the way compilers do.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line, 0 when the problem is not tied to a place in the file.
    pub line: usize,
    /// 1-based column in characters, 0 when not tied to a place.
    pub column: usize,
    /// The text of the offending line (empty when not tied to a place).
    pub snippet: String,
    /// How many characters of the snippet to underline, starting at `column`.
    pub underline: usize,
    /// What is wrong.
    pub message: String,
    /// What is expected or how to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// The same diagnostic with the underlined text of the snippet masked: the value is a
    /// secret, and error output goes to logs that more people can read than the file.
    pub fn redacted(mut self) -> Self {
        let start = self.column.saturating_sub(1);
        self.snippet = self
            .snippet
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i >= start && i < start + self.underline {
                    '*'
                } else {
                    c
                }
            })
            .collect();
        self
    }

    /// A problem at a byte range of `source`, the contents of `file`.
    pub fn at(
        file: &Path,
        source: &str,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let end = floor_char_boundary(source, span.end.clamp(start, source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line = source.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        let column = source[line_start..start].chars().count() + 1;
        let snippet = source[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        let underline = source[start..end.min(line_end)].chars().count().max(1);
        Self {
            file: file.to_path_buf(),
            line,
            column,
            snippet,
            underline,
            message: message.into(),
            help,
        }
    }

    /// A problem with a file as a whole (cannot be read, include pattern matched nothing).
    pub fn whole_file(file: &Path, message: impl Into<String>, help: Option<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            snippet: String::new(),
            underline: 0,
            message: message.into(),
            help,
        }
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            writeln!(f, "error: {}: {}", self.file.display(), self.message)?;
        } else {
            writeln!(
                f,
                "error: {}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )?;
            let gutter = self.line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{} | {}", self.line, self.snippet)?;
            let pad: String = self
                .snippet
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, "{:gutter$} | {}{}", "", pad, "^".repeat(self.underline))?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
    }
}

/// All problems found while loading a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for diagnostic in &self.diagnostics {
            write!(f, "{diagnostic}")?;
        }
        let count = self.diagnostics.len();
        write!(
            f,
            "{count} configuration error{}",
            if count == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_line_and_column_in_characters() {
        let source = "a = 1\nназва = \"x\"\ninterval = \"soon\"\n";
        let start = source.find("\"soon\"").unwrap_or_default();
        let d = Diagnostic::at(
            Path::new("c.toml"),
            source,
            start..start + 6,
            "invalid duration",
            Some("expected 15m".into()),
        );
        assert_eq!((d.line, d.column), (3, 12));
        assert_eq!(d.snippet, "interval = \"soon\"");
        let text = d.to_string();
        assert!(
            text.starts_with("error: c.toml:3:12: invalid duration"),
            "{text}"
        );
        assert!(text.contains("            ^^^^^^"), "{text}");
        assert!(text.contains("help: expected 15m"), "{text}");

        let cyr = source.find("\"x\"").unwrap_or_default();
        let d = Diagnostic::at(Path::new("c.toml"), source, cyr..cyr + 3, "m", None);
        assert_eq!((d.line, d.column), (2, 9));
    }
}
