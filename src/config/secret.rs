//! Secrets in the configuration: every secret key (`password`, `secret`, `token`) has a
//! `*_file` twin so that no secret needs to be written inline. A relative `*_file` path is
//! looked up in `$CREDENTIALS_DIRECTORY` when systemd provides one (`LoadCredential=`), else
//! next to the main configuration file.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::{Diagnostic, Origin};

/// Resolves secret key pairs for one configuration file.
pub struct SecretResolver<'a> {
    /// The directory of the main configuration file.
    pub config_dir: &'a Path,
    /// `$CREDENTIALS_DIRECTORY`, when set.
    pub credentials_dir: Option<PathBuf>,
}

impl<'a> SecretResolver<'a> {
    /// A resolver reading `$CREDENTIALS_DIRECTORY` from the environment.
    pub fn from_env(config_dir: &'a Path) -> Self {
        Self {
            config_dir,
            credentials_dir: std::env::var_os("CREDENTIALS_DIRECTORY")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }

    /// Where a `*_file` path points.
    pub fn locate(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        match &self.credentials_dir {
            Some(dir) => dir.join(path),
            None => self.config_dir.join(path),
        }
    }

    /// Resolves the pair `key` / `key_file`. At most one may be given; the file's content is
    /// read with one trailing newline removed.
    pub fn resolve(
        &self,
        source: &str,
        origin: &Origin,
        key: &str,
        inline: Option<&Spanned<String>>,
        file: Option<&Spanned<PathBuf>>,
    ) -> Result<Option<String>, Diagnostic> {
        match (inline, file) {
            (Some(_), Some(file)) => Err(Diagnostic::at(
                &origin.file,
                source,
                file.span(),
                format!("both `{key}` and `{key}_file` are set"),
                Some(format!("keep only `{key}_file` (recommended) or `{key}`")),
            )),
            (Some(inline), None) => Ok(Some(inline.get_ref().clone())),
            (None, Some(file)) => {
                let path = self.locate(file.get_ref());
                match std::fs::read_to_string(&path) {
                    Ok(text) => Ok(Some(
                        text.strip_suffix('\n')
                            .map(|t| t.strip_suffix('\r').unwrap_or(t))
                            .unwrap_or(&text)
                            .to_string(),
                    )),
                    Err(error) => Err(Diagnostic::at(
                        &origin.file,
                        source,
                        file.span(),
                        format!("cannot read `{key}_file` {}: {error}", path.display()),
                        Some(if self.credentials_dir.is_some() {
                            "relative paths are looked up in $CREDENTIALS_DIRECTORY (systemd LoadCredential=)".to_string()
                        } else {
                            "relative paths are looked up next to the main configuration file"
                                .to_string()
                        }),
                    )),
                }
            }
            (None, None) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn origin(path: &Path) -> Origin {
        Origin {
            file: Arc::from(path),
            span: 0..1,
        }
    }

    #[test]
    fn file_twin_is_read_from_credentials_dir() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("smtp-password"), "s3cret\n")?;
        let resolver = SecretResolver {
            config_dir: Path::new("/nonexistent"),
            credentials_dir: Some(dir.path().to_path_buf()),
        };
        let file = Spanned::new(0..1, PathBuf::from("smtp-password"));
        let got = resolver.resolve(
            "x",
            &origin(Path::new("c.toml")),
            "password",
            None,
            Some(&file),
        );
        assert_eq!(got, Ok(Some("s3cret".to_string())));
        Ok(())
    }

    #[test]
    fn both_forms_at_once_is_an_error() {
        let resolver = SecretResolver {
            config_dir: Path::new("/"),
            credentials_dir: None,
        };
        let inline = Spanned::new(0..1, "a".to_string());
        let file = Spanned::new(0..1, PathBuf::from("b"));
        let got = resolver.resolve(
            "x",
            &origin(Path::new("c.toml")),
            "secret",
            Some(&inline),
            Some(&file),
        );
        assert!(got.is_err());
    }

    #[test]
    fn missing_file_names_the_path() {
        let resolver = SecretResolver {
            config_dir: Path::new("/nonexistent-dir"),
            credentials_dir: None,
        };
        let file = Spanned::new(0..1, PathBuf::from("pw"));
        let got = resolver.resolve(
            "x",
            &origin(Path::new("c.toml")),
            "password",
            None,
            Some(&file),
        );
        let message = got.err().map(|d| d.message).unwrap_or_default();
        assert!(message.contains("/nonexistent-dir/pw"), "{message}");
    }
}
