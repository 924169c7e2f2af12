//! Numeric CSV (and TSV): delimiter-separated numbers, one example per line,
//! read with the `csv` crate.
//!
//! - Fields follow RFC 4180 quoting: a field may be wrapped in double quotes
//!   (`"1.5"`, `"a, b"` for a header name with a comma, `""` for a quote
//!   inside one); fields are then trimmed, and a quoted field after leading
//!   spaces (` "b"`) is unquoted too.
//! - The delimiter is a comma, or a tab for files named `*.tsv` (also
//!   `*.tsv.gz`; [`parse_delimited`] for text in memory).
//! - Blank lines are skipped; `\r\n` line ends are accepted.
//! - The first non-blank line is a header if [`Header::Present`], or under
//!   [`Header::Auto`] if any of its fields is not a number.
//! - Every data line must have as many fields as the first one (and as the
//!   header); a ragged line is an error naming its 1-based line number.
//! - Values must be finite numbers (`NaN`, `inf` and empty fields are errors).

use std::path::Path;

use gen_core::{Matrix, Result};

use super::{format_err, memory_path, read_bytes};

/// Whether the first line of a CSV file is a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// A header iff some field of the first non-blank line is not a number.
    #[default]
    Auto,
    /// The first non-blank line is a header.
    Present,
    /// Every line is data.
    Absent,
}

/// A parsed numeric CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    /// Column names, if the file had a header.
    pub header: Option<Vec<String>>,
    /// The values, one row per data line.
    pub data: Matrix,
}

/// Reads a numeric CSV file (TSV if named `*.tsv`) as a matrix, detecting a
/// header line ([`Header::Auto`]) and dropping it. Gzip is detected and
/// decompressed.
pub fn read_csv(path: impl AsRef<Path>) -> Result<Matrix> {
    Ok(read_csv_table(path, Header::Auto)?.data)
}

/// Reads a numeric CSV file with its header (gzip is detected and
/// decompressed). A file named `*.tsv` or `*.tsv.gz` is tab-separated.
pub fn read_csv_table(path: impl AsRef<Path>, header: Header) -> Result<CsvTable> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    delimited_from_bytes_at(&bytes, header, path, delimiter_for(path))
}

/// Parses CSV text held in memory.
pub fn parse_csv(text: &str, header: Header) -> Result<CsvTable> {
    parse_csv_at(text, header, &memory_path("CSV"))
}

/// Parses delimiter-separated text held in memory (`b','` for CSV, `b'\t'`
/// for TSV).
pub fn parse_delimited(text: &str, header: Header, delimiter: u8) -> Result<CsvTable> {
    parse_delimited_at(text, header, &memory_path("CSV"), delimiter)
}

/// Parses CSV bytes held in memory (they must be UTF-8).
pub fn csv_from_bytes(bytes: &[u8], header: Header) -> Result<CsvTable> {
    csv_from_bytes_at(bytes, header, &memory_path("CSV"))
}

/// The delimiter a file's name asks for: a tab for `*.tsv` (before an
/// optional `.gz`, any case), else a comma.
pub fn delimiter_for(path: &Path) -> u8 {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".tsv") { b'\t' } else { b',' }
}

fn separated(delimiter: u8) -> &'static str {
    if delimiter == b'\t' {
        "tab-separated"
    } else {
        "comma-separated"
    }
}

pub(crate) fn csv_from_bytes_at(bytes: &[u8], header: Header, path: &Path) -> Result<CsvTable> {
    delimited_from_bytes_at(bytes, header, path, b',')
}

fn delimited_from_bytes_at(
    bytes: &[u8],
    header: Header,
    path: &Path,
    delimiter: u8,
) -> Result<CsvTable> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format_err(
            path,
            format!(
                "the file is not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
            format!(
                "save the file as UTF-8 (or ASCII) {} text",
                separated(delimiter)
            ),
        )
    })?;
    parse_delimited_at(text, header, path, delimiter)
}

fn unquote(field: &str) -> &str {
    let f = field.trim();
    f.strip_prefix('"')
        .and_then(|g| g.strip_suffix('"'))
        .map_or(f, str::trim)
}

fn parse_number(field: &str) -> Option<f64> {
    unquote(field).parse::<f64>().ok()
}

pub(crate) fn parse_csv_at(text: &str, header: Header, path: &Path) -> Result<CsvTable> {
    parse_delimited_at(text, header, path, b',')
}

/// Reads the next non-blank record of `reader` into `rec`; returns its
/// 1-based line number, or `None` at the end of the text.
fn next_record(
    reader: &mut ::csv::Reader<&[u8]>,
    rec: &mut ::csv::StringRecord,
    path: &Path,
    delimiter: u8,
) -> Result<Option<u64>> {
    loop {
        let more = reader.read_record(rec).map_err(|e| {
            let ln = e.position().map_or(0, ::csv::Position::line);
            format_err(
                path,
                format!("line {ln}: {e}"),
                format!(
                    "save the file as UTF-8 {} text with balanced double quotes",
                    separated(delimiter)
                ),
            )
        })?;
        if !more {
            return Ok(None);
        }
        // A whitespace-only line is one blank field (or, tab-separated,
        // several blank ones); `,` alone is two empty fields, i.e. data.
        let blank = (rec.len() == 1 || delimiter.is_ascii_whitespace())
            && rec.iter().all(|f| f.trim().is_empty());
        if !blank {
            return Ok(Some(rec.position().map_or(0, ::csv::Position::line)));
        }
    }
}

pub(crate) fn parse_delimited_at(
    text: &str,
    header: Header,
    path: &Path,
    delimiter: u8,
) -> Result<CsvTable> {
    let sep = separated(delimiter);
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rec = ::csv::StringRecord::new();
    let mut line = next_record(&mut reader, &mut rec, path, delimiter)?;

    let is_header = match (header, line) {
        (Header::Present, _) => true,
        (Header::Absent, _) | (Header::Auto, None) => false,
        (Header::Auto, Some(_)) => rec.iter().any(|f| parse_number(f).is_none()),
    };
    let mut names: Option<(u64, Vec<String>)> = None;
    if is_header && let Some(ln) = line {
        names = Some((ln, rec.iter().map(|f| unquote(f).to_string()).collect()));
        line = next_record(&mut reader, &mut rec, path, delimiter)?;
    }

    let mut cols: Option<(u64, usize)> = names.as_ref().map(|(ln, n)| (*ln, n.len()));
    let mut data = Vec::new();
    let mut rows = 0usize;
    while let Some(ln) = line {
        for (j, field) in rec.iter().enumerate() {
            let v = parse_number(field).ok_or_else(|| {
                format_err(
                    path,
                    format!(
                        "line {ln}, column {}: '{}' is not a number",
                        j + 1,
                        field.trim()
                    ),
                    "make every field a number; if the first line holds column names, read the file with a header (Header::Present)",
                )
            })?;
            if !v.is_finite() {
                return Err(format_err(
                    path,
                    format!(
                        "line {ln}, column {}: value '{}' is not finite",
                        j + 1,
                        field.trim()
                    ),
                    "remove or impute NaN/Inf values before loading the file",
                ));
            }
            data.push(v);
        }
        let k = rec.len();
        match cols {
            None => cols = Some((ln, k)),
            Some((first, c)) if c != k => {
                return Err(format_err(
                    path,
                    format!("line {ln} has {k} fields but line {first} has {c}"),
                    format!(
                        "give every line the same number of {sep} fields (ragged rows are not allowed)"
                    ),
                ));
            }
            Some(_) => {}
        }
        rows += 1;
        line = next_record(&mut reader, &mut rec, path, delimiter)?;
    }
    if rows == 0 {
        return Err(format_err(
            path,
            "the file has no data lines",
            format!("pass a file with at least one line of {sep} numbers"),
        ));
    }
    let c = cols.map_or(0, |(_, c)| c);
    let data = Matrix::new(rows, c, data)?;
    Ok(CsvTable {
        header: names.map(|(_, n)| n),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::GenError;
    use proptest::prelude::*;

    fn problem(e: GenError) -> String {
        match e {
            GenError::Format { problem, fix, .. } => format!("{problem} | {fix}"),
            other => panic!("expected a Format error, got {other}"),
        }
    }

    #[test]
    fn parses_with_and_without_header() {
        let t = parse_csv("a, \"b\"\n1,2\r\n\n3.5,-4e-1\n", Header::Auto).unwrap();
        assert_eq!(t.header, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(t.data.shape(), (2, 2));
        assert_eq!(t.data.as_slice(), &[1.0, 2.0, 3.5, -0.4]);

        let t = parse_csv("1,2\n3,4", Header::Auto).unwrap();
        assert_eq!(t.header, None);
        assert_eq!(t.data.as_slice(), &[1.0, 2.0, 3.0, 4.0]);

        // a numeric first line forced to be a header
        let t = parse_csv("1,2\n3,4", Header::Present).unwrap();
        assert_eq!(t.header, Some(vec!["1".into(), "2".into()]));
        assert_eq!(t.data.shape(), (1, 2));
    }

    #[test]
    fn ragged_row_names_line() {
        let e = problem(parse_csv("1,2\n3,4\n5\n", Header::Auto).unwrap_err());
        assert!(e.contains("line 3 has 1 fields but line 1 has 2"), "{e}");
        let e = problem(parse_csv("x,y,z\n1,2\n", Header::Auto).unwrap_err());
        assert!(e.contains("line 2 has 2 fields"), "{e}");
    }

    #[test]
    fn non_number_names_line_and_column() {
        let e = problem(parse_csv("1,2\n3,abc\n", Header::Auto).unwrap_err());
        assert!(e.contains("line 2, column 2: 'abc'"), "{e}");
        let e = problem(parse_csv("1,2\n3,\n", Header::Absent).unwrap_err());
        assert!(e.contains("line 2, column 2"), "{e}");
        let e = problem(parse_csv("a,b\n1,2", Header::Absent).unwrap_err());
        assert!(e.contains("Header::Present"), "{e}");
    }

    #[test]
    fn non_finite_and_empty_and_bad_utf8() {
        let e = problem(parse_csv("1,NaN\n", Header::Absent).unwrap_err());
        assert!(e.contains("not finite"), "{e}");
        let e = problem(parse_csv("\n  \n", Header::Auto).unwrap_err());
        assert!(e.contains("no data lines"), "{e}");
        let e = problem(parse_csv("a,b\n", Header::Auto).unwrap_err());
        assert!(e.contains("no data lines"), "{e}");
        let e = problem(csv_from_bytes(b"1,2\n\xff\xfe", Header::Auto).unwrap_err());
        assert!(e.contains("offset 4"), "{e}");
    }

    #[test]
    fn reads_gzipped_file() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("gen-data-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.csv.gz");
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(b"x,y\n1,2\n").unwrap();
        std::fs::write(&p, enc.finish().unwrap()).unwrap();
        let t = read_csv_table(&p, Header::Auto).unwrap();
        assert_eq!(t.header, Some(vec!["x".into(), "y".into()]));
        assert_eq!(read_csv(&p).unwrap().as_slice(), &[1.0, 2.0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn quoted_fields_follow_rfc_4180() {
        let text = "\"name, with comma\",\"say \"\"hi\"\"\", b\n\"1.5\",2,\" 3 \"\n";
        let t = parse_csv(text, Header::Auto).unwrap();
        assert_eq!(
            t.header,
            Some(vec![
                "name, with comma".to_string(),
                "say \"hi\"".to_string(),
                "b".to_string()
            ])
        );
        assert_eq!(t.data.as_slice(), &[1.5, 2.0, 3.0]);
        // A quoted comma is not a delimiter, so "1,5" is one (bad) field.
        let e = problem(parse_csv("1,2\n\"1,5\",3\n", Header::Absent).unwrap_err());
        assert!(e.contains("line 2, column 1: '1,5' is not a number"), "{e}");
        // A quoted field may span lines; errors name the line its record starts on.
        let e = problem(parse_csv("1,2\n\"3\n\",x\n", Header::Absent).unwrap_err());
        assert!(e.contains("line 2, column 2: 'x'"), "{e}");
        // A line holding only a comma is two empty fields, not a blank line.
        let e = problem(parse_csv("1,2\n,\n", Header::Absent).unwrap_err());
        assert!(e.contains("line 2, column 1"), "{e}");
    }

    #[test]
    fn tsv_by_file_extension() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("gen-data-tsv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = "x\t\"y, z\"\n1\t2.5\n \t \n\"3\"\t-4\n";
        let p = dir.join("t.tsv");
        std::fs::write(&p, text).unwrap();
        let t = read_csv_table(&p, Header::Auto).unwrap();
        assert_eq!(t.header, Some(vec!["x".into(), "y, z".into()]));
        assert_eq!(t.data.shape(), (2, 2));
        assert_eq!(t.data.as_slice(), &[1.0, 2.5, 3.0, -4.0]);
        // Gzipped, upper-case name: still tab-separated.
        let gz = dir.join("T.TSV.gz");
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_csv(&gz).unwrap(), t.data);
        // The same text named .csv is one column per line, with a header.
        let c = dir.join("t.csv");
        std::fs::write(&c, text).unwrap();
        let e = problem(read_csv(&c).unwrap_err());
        assert!(e.contains("line 2, column 1: '1\t2.5'"), "{e}");
        // A ragged TSV line is named, with a tab-separated fix.
        let r = dir.join("ragged.tsv");
        std::fs::write(&r, "1\t2\n3\n").unwrap();
        let e = problem(read_csv(&r).unwrap_err());
        assert!(e.contains("line 2 has 1 fields but line 1 has 2"), "{e}");
        assert!(e.contains("tab-separated"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(delimiter_for(Path::new("a/b.tsv")), b'\t');
        assert_eq!(delimiter_for(Path::new("b.csv.gz")), b',');
        assert_eq!(delimiter_for(Path::new("tsv")), b',');
        let t = parse_delimited("1\t2\n3\t4", Header::Absent, b'\t').unwrap();
        assert_eq!(t.data.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}", h in 0u8..3) {
            let header = [Header::Auto, Header::Present, Header::Absent][h as usize];
            let _ = parse_csv(&s, header);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = csv_from_bytes(&b, Header::Auto);
        }

        #[test]
        fn roundtrip_numbers(
            rows in 1usize..8,
            cols in 1usize..6,
            pool in proptest::collection::vec(
                proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
                40,
            ),
        ) {
            let vals = &pool[..rows * cols];
            let text: String = vals
                .chunks(cols)
                .map(|r| r.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(","))
                .collect::<Vec<_>>()
                .join("\n");
            let t = parse_csv(&text, Header::Auto).unwrap();
            prop_assert_eq!(t.data.shape(), (rows, cols));
            prop_assert_eq!(t.data.as_slice(), vals);
        }
    }
}
