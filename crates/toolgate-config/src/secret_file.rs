//! `${file:PATH}`: a secret read from a file, the way container platforms
//! mount them (Docker and Kubernetes secrets, systemd credentials), so a
//! token need not pass through the environment at all.
//!
//! Errors name the path and what went wrong, never the content: the file
//! holds a secret, and the message ends up in logs.

use std::io::Read;
use std::path::Path;

use crate::expand::ExpandError;

/// Largest secret file accepted. Secrets are short; a bigger file is almost
/// certainly the wrong path (a log, a database), and reading it whole into
/// a header value would do harm.
pub(crate) const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Reads the secret at `path` (relative to `base`, the config file's
/// directory), without its one trailing newline (`\n` or `\r\n`): editors
/// and `echo` add one, and no header or token wants it.
pub(crate) fn read(base: &Path, path: &str) -> Result<String, ExpandError> {
    let full = base.join(path);
    let shown = full.display().to_string();
    let unreadable = |e: std::io::Error| ExpandError::FileUnreadable {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(&full).map_err(unreadable)?;
    // Read at most one byte more than allowed rather than trusting the
    // metadata: a FIFO or /proc file reports no useful length.
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(ExpandError::FileTooLarge {
            path: shown,
            limit: MAX_SECRET_FILE_BYTES,
        });
    }
    let mut text =
        String::from_utf8(bytes).map_err(|_| ExpandError::FileNotUtf8 { path: shown })?;
    if text.ends_with("\r\n") {
        text.truncate(text.len() - 2);
    } else if text.ends_with('\n') {
        text.truncate(text.len() - 1);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, content: &[u8]) {
        std::fs::write(dir.join(name), content).unwrap();
    }

    #[test]
    fn strips_exactly_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&[u8], &str); 6] = [
            (b"s3cret", "s3cret"),
            (b"s3cret\n", "s3cret"),
            (b"s3cret\r\n", "s3cret"),
            (b"s3cret\n\n", "s3cret\n"),
            (b"  spaced \n", "  spaced "),
            (b"", ""),
        ];
        for (i, (content, want)) in cases.into_iter().enumerate() {
            let name = format!("s{i}");
            write(dir.path(), &name, content);
            assert_eq!(read(dir.path(), &name).as_deref(), Ok(want), "{content:?}");
        }
    }

    #[test]
    fn relative_to_base_absolute_as_is() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        write(dir.path(), "secrets/key", b"k1\n");
        assert_eq!(read(dir.path(), "secrets/key").as_deref(), Ok("k1"));
        let abs = dir.path().join("secrets/key");
        let elsewhere = Path::new("/nonexistent-base");
        assert_eq!(read(elsewhere, abs.to_str().unwrap()).as_deref(), Ok("k1"));
    }

    #[test]
    fn errors_name_the_path_never_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read(dir.path(), "nope.txt").unwrap_err();
        assert!(
            matches!(&missing, ExpandError::FileUnreadable { path, .. } if path.ends_with("nope.txt")),
            "{missing:?}"
        );
        assert!(missing.to_string().contains("nope.txt"), "{missing}");

        // A directory opens on Linux but cannot be read.
        let unreadable = read(dir.path(), ".").unwrap_err();
        assert!(
            matches!(unreadable, ExpandError::FileUnreadable { .. }),
            "{unreadable:?}"
        );

        write(dir.path(), "bin", b"qzq\xffqzq");
        let not_utf8 = read(dir.path(), "bin").unwrap_err();
        assert!(matches!(not_utf8, ExpandError::FileNotUtf8 { .. }));
        assert!(!not_utf8.to_string().contains("qzq"), "{not_utf8}");

        let limit = usize::try_from(MAX_SECRET_FILE_BYTES).unwrap();
        write(dir.path(), "edge", &vec![b'a'; limit]);
        assert_eq!(read(dir.path(), "edge").map(|s| s.len()), Ok(limit));
        write(dir.path(), "big", &vec![b'a'; limit + 1]);
        let big = read(dir.path(), "big").unwrap_err();
        assert!(matches!(big, ExpandError::FileTooLarge { .. }), "{big:?}");
        assert!(big.to_string().contains("65536"), "{big}");
        assert!(!big.to_string().contains("aaaa"), "{big}");
    }
}
