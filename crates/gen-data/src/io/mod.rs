//! Loaders for user data: MNIST [`idx`] files, numeric [`csv`], NumPy [`npy`]
//! arrays and [`npz`] archives (read and write).
//!
//! All readers accept gzip-compressed files transparently (detected by the
//! magic bytes `1f 8b`, not by the file name). Malformed content gives
//! [`GenError::Format`] naming the path, what is wrong and how to fix it;
//! no input makes them panic.

pub mod csv;
pub mod idx;
pub mod npy;
pub mod npz;
mod zipfile;

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use gen_core::{GenError, Result};

/// The two magic bytes every gzip stream starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Builds a [`GenError::Format`].
pub(crate) fn format_err(
    path: &Path,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> GenError {
    GenError::Format {
        path: path.to_path_buf(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// The path used in messages about in-memory bytes.
pub(crate) fn memory_path(what: &str) -> PathBuf {
    PathBuf::from(format!("<in-memory {what}>"))
}

/// Decompresses `bytes` if they start with the gzip magic, else returns them as is.
pub fn maybe_gunzip(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| {
            format_err(
                path,
                format!("the file starts with the gzip magic 1f 8b but does not decompress: {e}"),
                "re-download the file or decompress it yourself (gunzip) and pass the result",
            )
        })?;
    Ok(out)
}

/// Reads a whole file, decompressing it if it is gzip.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| GenError::io(path, e))?;
    maybe_gunzip(bytes, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    #[test]
    fn gunzip_roundtrip_and_corrupt_stream() {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(b"hello, world").unwrap();
        let gz = enc.finish().unwrap();
        let p = Path::new("x.gz");
        assert_eq!(maybe_gunzip(gz.clone(), p).unwrap(), b"hello, world");
        assert_eq!(maybe_gunzip(b"plain".to_vec(), p).unwrap(), b"plain");
        let err = maybe_gunzip(gz[..gz.len() / 2].to_vec(), p).unwrap_err();
        assert!(matches!(err, GenError::Format { .. }), "{err}");
        assert!(err.to_string().contains("x.gz"));
    }

    #[test]
    fn missing_file_is_io_error() {
        let err = read_bytes(Path::new("/nonexistent/genlab/file.npy")).unwrap_err();
        assert!(matches!(err, GenError::Io { .. }), "{err}");
    }
}
