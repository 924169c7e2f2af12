//! The canonical train/test splits of the embedded data sets.
//!
//! Use these so results compare across runs and with other people's numbers:
//!
//! | data set | test (or validation) part | train part |
//! |---|---|---|
//! | MNIST 5k | rows with 0-based index `i % 10 == 9` (500 rows, 50 per class) | the other 4,500 |
//! | digits 8×8 | the last 297 rows | the first 1,500 rows |
//! | Shakespeare | the last 10% of the characters (validation) | the first 90% (nanoGPT's `prepare.py` split) |
//! | word and name lists | lines with 0-based index `i % 10 == 9` | the other lines |

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use gen_core::{GenError, Result};

/// Which part of a data set to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training part.
    Train,
    /// The held-out part. For Shakespeare this is the last 10% of the
    /// characters, which nanoGPT calls the *validation* split.
    Test,
    /// Everything, train and test together, in file order.
    All,
}

impl Split {
    /// Lower-case name: `train`, `test` or `all`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::All => "all",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Split {
    type Err = GenError;

    /// Parses `train`, `test` (also `val`, `validation`) or `all`, ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" => Ok(Split::Train),
            "test" | "val" | "valid" | "validation" => Ok(Split::Test),
            "all" => Ok(Split::All),
            _ => Err(GenError::config(
                "split",
                s,
                "unknown split",
                "use one of: train, test, all",
            )),
        }
    }
}

/// True for the rows of the test part under the modulo rule: `i % 10 == 9`.
pub fn is_modulo_test_index(i: usize) -> bool {
    i % 10 == 9
}

/// The indices of `split` among `n` rows under the modulo rule (test = every
/// tenth row, `i % 10 == 9`), in increasing order.
pub fn modulo_split_indices(n: usize, split: Split) -> Vec<usize> {
    (0..n)
        .filter(|&i| match split {
            Split::Train => !is_modulo_test_index(i),
            Split::Test => is_modulo_test_index(i),
            Split::All => true,
        })
        .collect()
}

/// The range of `split` among `n` rows when the first `n_train` rows are the
/// training part and the rest the test part (`n_train` is capped at `n`).
pub fn head_tail_range(n: usize, n_train: usize, split: Split) -> Range<usize> {
    let cut = n_train.min(n);
    match split {
        Split::Train => 0..cut,
        Split::Test => cut..n,
        Split::All => 0..n,
    }
}

/// Keeps the items of `split` under the modulo rule, in order.
pub fn modulo_split<T>(items: Vec<T>, split: Split) -> Vec<T> {
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| match split {
            Split::Train => !is_modulo_test_index(*i),
            Split::Test => is_modulo_test_index(*i),
            Split::All => true,
        })
        .map(|(_, x)| x)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulo_rule_partitions_rows() {
        let n = 1234;
        let train = modulo_split_indices(n, Split::Train);
        let test = modulo_split_indices(n, Split::Test);
        // floor((n - 9 - 1) / 10) + 1 = number of i < n with i % 10 == 9
        assert_eq!(test.len(), 123);
        assert_eq!(train.len() + test.len(), n);
        assert!(test.iter().all(|i| i % 10 == 9));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
        assert_eq!(modulo_split(vec!['a'; 20], Split::Test).len(), 2);
    }

    #[test]
    fn head_tail_ranges() {
        assert_eq!(head_tail_range(1797, 1500, Split::Train), 0..1500);
        assert_eq!(head_tail_range(1797, 1500, Split::Test), 1500..1797);
        assert_eq!(head_tail_range(10, 50, Split::Test), 10..10);
    }

    #[test]
    fn parse_split_names() {
        assert_eq!("Train".parse::<Split>().unwrap(), Split::Train);
        assert_eq!("validation".parse::<Split>().unwrap(), Split::Test);
        assert_eq!("all".parse::<Split>().unwrap(), Split::All);
        let err = "dev".parse::<Split>().unwrap_err().to_string();
        assert!(
            err.contains("dev") && err.contains("train, test, all"),
            "{err}"
        );
    }
}
