//! Typed values for enumerated options: `--help` lists the valid choices
//! (and shell completion offers them), while a bad value gets the library's
//! own error, which says what is wrong and how to fix it.

use std::ffi::OsStr;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use gen_core::{Backend, GenError, Result, ScoreEstimator};

/// A value parser over a fixed list of names.
#[derive(Clone)]
pub struct Choices<T> {
    names: Vec<PossibleValue>,
    parse: fn(&str) -> Result<T>,
    /// For [`listed`]: the field name and the accepted names.
    check: Option<(&'static str, Vec<&'static str>)>,
}

impl<T> Choices<T> {
    /// Choices `names` (the first spelling of each is shown, the rest are
    /// hidden aliases), parsed by `parse`.
    pub fn new(names: Vec<Vec<&'static str>>, parse: fn(&str) -> Result<T>) -> Self {
        let names = names
            .into_iter()
            .filter_map(|spellings| {
                let (first, rest) = spellings.split_first()?;
                Some(PossibleValue::new(*first).aliases(rest.iter().copied()))
            })
            .collect();
        Self {
            names,
            parse,
            check: None,
        }
    }
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Choices<T> {
    type Value = T;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> std::result::Result<T, clap::Error> {
        let s = value
            .to_str()
            .ok_or_else(|| clap::Error::raw(ErrorKind::InvalidUtf8, "the value is not UTF-8\n"))?;
        if let Some((field, list)) = &self.check
            && !list.contains(&s)
        {
            let e = GenError::config(
                *field,
                s,
                format!("unknown {field}"),
                format!("use one of: {}", list.join(", ")),
            );
            return Err(clap::Error::raw(ErrorKind::InvalidValue, format!("{e}\n")));
        }
        (self.parse)(s).map_err(|e| clap::Error::raw(ErrorKind::InvalidValue, format!("{e}\n")))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.names.iter().cloned()))
    }
}

fn one(names: &[&'static str]) -> Vec<Vec<&'static str>> {
    names.iter().map(|n| vec![*n]).collect()
}

/// `--backend`.
pub fn backend() -> Choices<Backend> {
    Choices::new(one(&["ndarray", "flex", "wgpu", "cuda"]), str::parse)
}

/// `--data`: every embedded data set and 2-D toy, with the old spellings.
pub fn dataset() -> Choices<String> {
    let aliases: &[(&str, &[&'static str])] = &[
        ("mnist5k", &["mnist5k", "mnist"]),
        ("digits", &["digits", "digits8x8"]),
        ("english-words", &["english-words", "words"]),
        ("first-names", &["first-names", "names"]),
        (
            "eight-gaussians",
            &["eight-gaussians", "8-gaussians", "8gaussians"],
        ),
        (
            "twenty-five-gaussians",
            &["twenty-five-gaussians", "25-gaussians", "25gaussians"],
        ),
        ("two-moons", &["two-moons", "moons"]),
        ("swiss-roll", &["swiss-roll", "swissroll"]),
        ("two-spirals", &["two-spirals", "2spirals", "spirals"]),
    ];
    let names = gen_data::catalog()
        .iter()
        .map(|d| match aliases.iter().find(|(n, _)| *n == d.name) {
            Some((_, a)) => a.to_vec(),
            None => vec![d.name],
        })
        .collect();
    Choices::new(names, |s| {
        crate::data::canonical_name(s).map(str::to_string)
    })
}

/// `--split`.
pub fn split() -> Choices<gen_data::Split> {
    Choices::new(
        vec![vec!["test", "validation", "val"], vec!["train"]],
        crate::data::parse_split,
    )
}

/// `--estimator` of `score`.
pub fn estimator() -> Choices<ScoreEstimator> {
    let names: Vec<&'static str> = ScoreEstimator::ALL.iter().map(|e| e.name()).collect();
    Choices::new(one(&names), str::parse)
}

/// Any enumerated library type with `NAMES` and `FromStr`.
pub fn names<T>(names: &[&'static str]) -> Choices<T>
where
    T: std::str::FromStr<Err = GenError>,
{
    Choices::new(one(names), str::parse)
}

/// A name from a fixed list, kept as a string for code that dispatches on it;
/// a name outside the list is refused with `field`'s "unknown …" message.
pub fn listed(field: &'static str, names: &[&'static str]) -> Choices<String> {
    let list = names.to_vec();
    let mut c = Choices::new(one(names), |s| Ok(s.to_string()));
    c.check = Some((field, list));
    c
}
