//! Small real data sets embedded in the crate.
//!
//! The gzipped files in `crates/gen-data/data/` are compiled into the library
//! with `include_bytes!` and decompressed on first use (then cached for the
//! life of the process), so everything runs offline. Provenance, licences and
//! the canonical splits are in `crates/gen-data/DATASETS.md` and [`crate::split`].
//!
//! | function | content | all | train | test |
//! |---|---|---|---|---|
//! | [`mnist5k`] | MNIST digits 28×28, grey levels 0..=255 | 5,000 | 4,500 | 500 |
//! | [`digits8x8`] | UCI digits 8×8, grey levels 0..=16 | 1,797 | 1,500 | 297 |
//! | [`shakespeare`] | 42 plays and poems, ASCII characters | 5,057,198 | 4,551,478 | 505,720 |
//! | [`english_words`] | lower-case English words | 63,875 | 57,488 | 6,387 |
//! | [`census_surnames`] | US census 1990 surnames | 88,799 | 79,920 | 8,879 |
//! | [`census_first_names`] | US census 1990 first names | 5,163 | 4,647 | 516 |

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use flate2::read::MultiGzDecoder;
use gen_core::{GenError, Matrix, Result};

pub use crate::image::ImageDataset;
use crate::io::csv::{Header, parse_csv_at};
use crate::split::{Split, head_tail_range, modulo_split, modulo_split_indices};

static MNIST_5K_GZ: &[u8] = include_bytes!("../data/mnist_5k.csv.gz");
static DIGITS_8X8_GZ: &[u8] = include_bytes!("../data/digits_8x8.csv.gz");
static SHAKESPEARE_GZ: &[u8] = include_bytes!("../data/shakespeare_gutenberg.txt.gz");
static SURNAMES_GZ: &[u8] = include_bytes!("../data/census_surnames.txt.gz");
static FIRST_NAMES_GZ: &[u8] = include_bytes!("../data/census_first_names.txt.gz");
static ENGLISH_WORDS_GZ: &[u8] = include_bytes!("../data/english_words.txt.gz");

/// Rows in the digits 8×8 training split (the first rows; the rest are test).
pub const DIGITS_TRAIN_ROWS: usize = 1500;

/// Decompresses an embedded gzip file.
fn gunzip(name: &str, gz: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    MultiGzDecoder::new(gz).read_to_end(&mut out).map_err(|e| GenError::Format {
        path: format!("embedded:{name}").into(),
        problem: format!("the embedded file does not decompress: {e}"),
        fix: "the gen-data build is damaged; rebuild it from a clean checkout (cargo clean -p gen-data)".into(),
    })?;
    Ok(out)
}

fn gunzip_text(name: &str, gz: &[u8]) -> Result<String> {
    String::from_utf8(gunzip(name, gz)?).map_err(|e| GenError::Format {
        path: format!("embedded:{name}").into(),
        problem: format!("the embedded text is not UTF-8: {e}"),
        fix: "the gen-data build is damaged; rebuild it from a clean checkout".into(),
    })
}

/// Parses an embedded CSV of `h*w` pixel columns then a label column.
fn parse_images(
    name: &str,
    gz: &[u8],
    height: usize,
    width: usize,
    levels: u32,
) -> Result<ImageDataset> {
    let path_s = format!("embedded:{name}");
    let path = Path::new(&path_s);
    let text = gunzip_text(name, gz)?;
    let table = parse_csv_at(&text, Header::Absent, path)?;
    let d = height * width;
    table.data.ensure_cols(d + 1, &path_s)?;
    let n = table.data.rows();
    let mut pixels = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    let bad = |i: usize, what: &str| GenError::Format {
        path: path.to_path_buf(),
        problem: format!("row {i}: {what}"),
        fix: "the gen-data build is damaged; rebuild it from a clean checkout".into(),
    };
    for (i, row) in table.data.iter_rows().enumerate() {
        let max = (levels - 1) as f64;
        if row[..d]
            .iter()
            .any(|&v| !(0.0..=max).contains(&v) || v.fract() != 0.0)
        {
            return Err(bad(i, "a pixel is not an integer grey level"));
        }
        pixels.extend_from_slice(&row[..d]);
        let l = row[d];
        if !(0.0..=255.0).contains(&l) || l.fract() != 0.0 {
            return Err(bad(i, "the label is not an integer in 0..=255"));
        }
        labels.push(l as u8);
    }
    Ok(ImageDataset {
        images: Matrix::new(n, d, pixels)?,
        labels,
        height,
        width,
        levels,
    })
}

/// Returns the cached value, computing it on first use. A failed load is not
/// cached (it cannot happen for an intact build, and the error is returned).
fn cached<T>(cell: &'static OnceLock<T>, load: impl FnOnce() -> Result<T>) -> Result<&'static T> {
    if let Some(v) = cell.get() {
        return Ok(v);
    }
    let v = load()?;
    Ok(cell.get_or_init(|| v))
}

/// MNIST, 5,000 training digits (500 per class, sorted by label), 28 × 28
/// pixels, 256 grey levels.
///
/// Split: test = rows with 0-based index `i % 10 == 9` (500 rows, 50 per
/// class), train = the other 4,500.
pub fn mnist5k(split: Split) -> Result<ImageDataset> {
    static CELL: OnceLock<ImageDataset> = OnceLock::new();
    let all = cached(&CELL, || {
        parse_images("mnist_5k.csv.gz", MNIST_5K_GZ, 28, 28, 256)
    })?;
    match split {
        Split::All => Ok(all.clone()),
        _ => all.select(&modulo_split_indices(all.len(), split)),
    }
}

/// UCI optical handwritten digits, 1,797 images of 8 × 8 pixels, 17 grey
/// levels (0..=16).
///
/// Split: train = the first 1,500 rows, test = the last 297.
pub fn digits8x8(split: Split) -> Result<ImageDataset> {
    static CELL: OnceLock<ImageDataset> = OnceLock::new();
    let all = cached(&CELL, || {
        parse_images("digits_8x8.csv.gz", DIGITS_8X8_GZ, 8, 8, 17)
    })?;
    match split {
        Split::All => Ok(all.clone()),
        _ => {
            let idx: Vec<usize> = head_tail_range(all.len(), DIGITS_TRAIN_ROWS, split).collect();
            all.select(&idx)
        }
    }
}

/// Shakespeare's 42 plays and poems (Project Gutenberg, ASCII), as one string.
///
/// Split: [`Split::Train`] = the first 90% of the characters,
/// [`Split::Test`] = the last 10% (the *validation* split of nanoGPT's
/// `prepare.py`: `n = len(data); train = data[:int(n * 0.9)]`).
pub fn shakespeare(split: Split) -> Result<String> {
    static CELL: OnceLock<String> = OnceLock::new();
    let all = cached(&CELL, || {
        gunzip_text("shakespeare_gutenberg.txt.gz", SHAKESPEARE_GZ)
    })?;
    let n = all.chars().count();
    let r = head_tail_range(n, n * 9 / 10, split);
    // character positions to byte offsets (the same numbers for ASCII text)
    let byte = |c: usize| all.char_indices().nth(c).map_or(all.len(), |(b, _)| b);
    Ok(all[byte(r.start)..byte(r.end)].to_string())
}

fn word_list(
    name: &str,
    gz: &[u8],
    cell: &'static OnceLock<Vec<String>>,
    split: Split,
) -> Result<Vec<String>> {
    let all = cached(cell, || {
        Ok(gunzip_text(name, gz)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    })?;
    Ok(modulo_split(all.clone(), split))
}

/// American English words (SCOWL via Debian's wamerican), lower-case letters
/// only, sorted; 63,875 words.
///
/// Split: test = lines with 0-based index `i % 10 == 9`.
pub fn english_words(split: Split) -> Result<Vec<String>> {
    static CELL: OnceLock<Vec<String>> = OnceLock::new();
    word_list("english_words.txt.gz", ENGLISH_WORDS_GZ, &CELL, split)
}

/// US census 1990 surnames, lower case, sorted; 88,799 names.
///
/// Split: test = lines with 0-based index `i % 10 == 9`.
pub fn census_surnames(split: Split) -> Result<Vec<String>> {
    static CELL: OnceLock<Vec<String>> = OnceLock::new();
    word_list("census_surnames.txt.gz", SURNAMES_GZ, &CELL, split)
}

/// US census 1990 first names (female and male), lower case, sorted; 5,163 names.
///
/// Split: test = lines with 0-based index `i % 10 == 9`.
pub fn census_first_names(split: Split) -> Result<Vec<String>> {
    static CELL: OnceLock<Vec<String>> = OnceLock::new();
    word_list("census_first_names.txt.gz", FIRST_NAMES_GZ, &CELL, split)
}
