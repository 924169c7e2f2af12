//! Resolving `--data NAME [--split]` into something a model can learn from.

use gen_core::{GenError, Matrix, Result};
use gen_data::Split;
use gen_data::toy2d::Toy2d;

/// Rows drawn from a 2-D toy for each split (the test set uses another seed).
pub const TOY_TRAIN_ROWS: usize = 10_000;
/// Test rows of a toy.
pub const TOY_TEST_ROWS: usize = 5_000;

/// A data set in the form models consume.
#[derive(Debug, Clone)]
pub enum Data {
    /// Continuous points (toys), with the exact density when the toy has one.
    Points { x: Matrix, toy: Option<Toy2d> },
    /// Images as rows of raw grey levels 0..levels−1.
    Images {
        /// One flattened image per row (raw levels).
        x: Matrix,
        /// Height.
        h: usize,
        /// Width.
        w: usize,
        /// Grey levels.
        levels: u32,
    },
    /// One continuous text.
    Text(String),
    /// Separate strings (words, names).
    Lines(Vec<String>),
}

impl Data {
    /// Short description for summaries.
    pub fn describe(&self) -> String {
        match self {
            Data::Points { x, .. } => format!("{} points in {} dimensions", x.rows(), x.cols()),
            Data::Images { x, h, w, .. } => format!("{} images of {h}x{w}", x.rows()),
            Data::Text(t) => format!("{} characters", t.chars().count()),
            Data::Lines(l) => format!("{} strings", l.len()),
        }
    }
}

/// Loads data set `name` (a `genlab datasets` name), `split` part; toys are
/// sampled with a split-specific seed so train and test differ.
pub fn load(name: &str, split: Split) -> Result<Data> {
    if let Ok(toy) = name.parse::<Toy2d>() {
        let (n, seed) = match split {
            Split::Train => (TOY_TRAIN_ROWS, 1),
            _ => (TOY_TEST_ROWS, 2),
        };
        return Ok(Data::Points {
            x: toy.sample(n, seed),
            toy: Some(toy),
        });
    }
    let images = |d: gen_data::ImageDataset| Data::Images {
        x: d.images,
        h: d.height,
        w: d.width,
        levels: d.levels,
    };
    Ok(match name {
        "mnist5k" | "mnist" => images(gen_data::mnist5k(split)?),
        "digits" | "digits8x8" => images(gen_data::digits8x8(split)?),
        "shakespeare" => Data::Text(gen_data::shakespeare(split)?),
        "english-words" | "words" => Data::Lines(gen_data::english_words(split)?),
        "surnames" => Data::Lines(gen_data::census_surnames(split)?),
        "first-names" | "names" => Data::Lines(gen_data::census_first_names(split)?),
        other => {
            let names: Vec<String> = gen_data::catalog()
                .iter()
                .map(|d| d.name.to_string())
                .collect();
            return Err(GenError::config(
                "--data",
                other,
                "unknown data set",
                format!("use one of: {} (see `genlab datasets`)", names.join(", ")),
            ));
        }
    })
}

/// Parses `--split`.
pub fn parse_split(s: &str) -> Result<Split> {
    match s {
        "train" => Ok(Split::Train),
        "test" | "validation" | "val" => Ok(Split::Test),
        other => Err(GenError::config(
            "--split",
            other,
            "unknown split",
            "use train or test",
        )),
    }
}
