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
        /// One class label per image.
        labels: Vec<u8>,
    },
    /// One continuous text.
    Text(String),
    /// Separate strings (words, names).
    Lines(Vec<String>),
}

impl Data {
    /// Raw levels, height, width and grey levels of an image set, or an
    /// error saying that `model` models images.
    pub fn images(&self, model: &str) -> Result<(Matrix, usize, usize, u32)> {
        match self {
            Data::Images {
                x, h, w, levels, ..
            } => Ok((x.clone(), *h, *w, *levels)),
            other => Err(GenError::config(
                "--data",
                other.describe(),
                format!("{model} models images"),
                "use --data mnist5k or --data digits",
            )),
        }
    }

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

/// Modes covered and the high-quality share of `samples` from a toy whose
/// modes are known: Gaussian centres (eight- and twenty-five-gaussians,
/// gen-eval's `mode_coverage`) or circular arcs (rings, two moons,
/// `arc_coverage`), 3σ radius and the default coverage count. `None` for
/// the toys without modes.
pub fn toy_coverage(toy: Toy2d, samples: &Matrix) -> Result<Option<gen_eval::ModeCoverage>> {
    let options = gen_eval::ModeCoverageOptions::default();
    if let Some((centres, sigma)) = toy.mode_centres() {
        return gen_eval::mode_coverage(samples, &centres, sigma, &options).map(Some);
    }
    let Some((arcs, sigma)) = toy.arcs() else {
        return Ok(None);
    };
    let arcs: Vec<gen_eval::CircleArc> = arcs
        .iter()
        .map(|a| gen_eval::CircleArc {
            centre: [a.centre.0, a.centre.1],
            radius: a.radius,
            start: a.start,
            sweep: a.sweep,
        })
        .collect();
    gen_eval::arc_coverage(samples, &arcs, sigma, &options).map(Some)
}

/// True if [`toy_coverage`] measures `toy`.
pub fn has_modes(toy: Toy2d) -> bool {
    toy.mode_centres().is_some() || toy.arcs().is_some()
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
        labels: d.labels,
    };
    Ok(match canonical_name(name)? {
        "mnist5k" => images(gen_data::mnist5k(split)?),
        "digits" => images(gen_data::digits8x8(split)?),
        "shakespeare" => Data::Text(gen_data::shakespeare(split)?),
        "english-words" => Data::Lines(gen_data::english_words(split)?),
        "surnames" => Data::Lines(gen_data::census_surnames(split)?),
        "first-names" => Data::Lines(gen_data::census_first_names(split)?),
        other => return Err(unknown_data(other)),
    })
}

/// The catalogue name of data set `name` (which may be an older spelling,
/// e.g. `mnist` or `8gaussians`), or an error listing the data sets.
pub fn canonical_name(name: &str) -> Result<&'static str> {
    if let Ok(toy) = name.parse::<Toy2d>() {
        return Ok(toy.name());
    }
    Ok(match name {
        "mnist5k" | "mnist" => "mnist5k",
        "digits" | "digits8x8" => "digits",
        "shakespeare" => "shakespeare",
        "english-words" | "words" => "english-words",
        "surnames" => "surnames",
        "first-names" | "names" => "first-names",
        other => return Err(unknown_data(other)),
    })
}

fn unknown_data(name: &str) -> GenError {
    let names: Vec<String> = gen_data::catalog()
        .iter()
        .map(|d| d.name.to_string())
        .collect();
    GenError::config(
        "--data",
        name,
        "unknown data set",
        format!("use one of: {} (see `genlab datasets`)", names.join(", ")),
    )
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

/// Rows of a .npy, .npz, .csv or .tsv file; `key` picks the array of an .npz
/// archive (see [`read_array_rows`]).
pub fn read_rows(path: &std::path::Path, key: Option<&str>) -> Result<Matrix> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy" | "npz") => read_array_rows(path, key),
        Some("csv" | "tsv") => gen_data::io::csv::read_csv(path),
        _ => Err(GenError::config(
            "--input",
            path.display(),
            "unknown file type",
            "use .npy, .npz, .csv, .tsv, or .txt (strings)",
        )),
    }
}

/// Rows of a `.npy` array or of one array of a `.npz` archive (told apart by
/// content): the array `key`, else the archive's first, with a note on
/// stderr naming it when the archive holds several. Arrays of rank > 2 are
/// flattened per row.
pub fn read_array_rows(path: &std::path::Path, key: Option<&str>) -> Result<Matrix> {
    let read = gen_data::io::npz::read_array(path, key)?;
    if key.is_none() && read.names.len() > 1 {
        eprintln!(
            "note: {} holds {} arrays ({}); using '{}', the first (pass --key NAME to choose)",
            path.display(),
            read.names.len(),
            read.names.join(", "),
            read.name
        );
    }
    read.array.to_matrix()
}
