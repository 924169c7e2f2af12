//! `genlab encode | reconstruct | interpolate`: the inference task, for every
//! run whose capabilities offer it (through [`crate::registry::LoadedRun`]).

use std::path::PathBuf;

use gen_core::{GenError, Matrix, Result};
use serde_json::json;

use crate::output;
use crate::registry::{Input, LoadedRun, rows_of};

/// Arguments shared by encode / reconstruct / interpolate.
#[derive(clap::Args, Debug)]
pub struct InferArgs {
    /// Run directory written by `genlab train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Rows to use: .npy / .npz / .csv in the model's input scale.
    #[arg(long, conflicts_with = "data")]
    pub input: Option<PathBuf>,
    /// The array of an .npz --input (default: the archive's first).
    #[arg(long)]
    pub key: Option<String>,
    /// A data set instead of a file (prepared as in training).
    #[arg(long, value_parser = crate::choices::dataset())]
    pub data: Option<String>,
    /// Which split of --data.
    #[arg(long, default_value = "test", value_parser = crate::choices::split())]
    pub split: gen_data::Split,
    /// Output: .npy or .npz (encode, reconstruct) or .png (reconstruct, interpolate).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Use only the first this many rows.
    #[arg(long, default_value_t = 64)]
    pub rows: usize,
    /// Interpolate: index of the first end point.
    #[arg(long, default_value_t = 0)]
    pub from: usize,
    /// Interpolate: index of the second end point.
    #[arg(long, default_value_t = 1)]
    pub to: usize,
    /// Interpolate: number of points (≥ 2).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
}

fn load_rows(a: &InferArgs) -> Result<(Box<dyn LoadedRun>, Matrix)> {
    let (_, run) = crate::families::load(&a.checkpoint)?;
    let x = input_of(
        &*run,
        a.input.as_deref(),
        a.key.as_deref(),
        a.data.as_deref(),
        a.split,
    )?;
    let x = rows_of(&x, run.capabilities().model)?.clone();
    Ok((run, x))
}

fn first_rows(x: &Matrix, n: usize) -> Result<Matrix> {
    x.select_rows(&(0..n.min(x.rows())).collect::<Vec<_>>())
}

/// `genlab encode`: the run's encoding of the first `--rows` rows; with
/// `--out F.npy` the first part goes to F and the others next to it, with
/// `--out F.npz` every part is an array of F named by its JSON key.
pub fn encode(a: &InferArgs) -> Result<()> {
    let (run, x) = load_rows(a)?;
    let parts = run.encode(&first_rows(&x, a.rows)?)?;
    match &a.out {
        Some(p) if output::is_npz(p) => {
            let arrays: Vec<(&str, gen_data::io::npy::NpyArray)> = parts
                .iter()
                .map(|part| {
                    (
                        part.key,
                        gen_data::io::npy::NpyArray::from_matrix(&part.values),
                    )
                })
                .collect();
            let refs: Vec<(&str, &gen_data::io::npy::NpyArray)> =
                arrays.iter().map(|(k, v)| (*k, v)).collect();
            gen_data::io::npz::write_npz(p, &refs, gen_data::io::npz::NpzCompression::Stored)?;
            let names: Vec<&str> = parts.iter().map(|part| part.key).collect();
            eprintln!(
                "wrote {} ({}) for {} rows to {}",
                names.join(", "),
                parts
                    .iter()
                    .map(|part| part.description)
                    .collect::<Vec<_>>()
                    .join("; "),
                x.rows().min(a.rows),
                p.display()
            );
            Ok(())
        }
        Some(p) => {
            for (i, part) in parts.iter().enumerate() {
                let path = if i == 0 {
                    p.clone()
                } else {
                    p.with_extension(part.file_suffix)
                };
                gen_data::io::npy::write_npy_f64(&path, &part.values)?;
                eprintln!(
                    "wrote {} {} to {}",
                    part.values.rows(),
                    part.description,
                    path.display()
                );
            }
            Ok(())
        }
        None => {
            let mut v = serde_json::Map::new();
            for part in &parts {
                let rows: Vec<serde_json::Value> = part
                    .values
                    .iter_rows()
                    .map(|r| match part.integer {
                        true => json!(r.iter().map(|&k| k as usize).collect::<Vec<_>>()),
                        false => json!(r),
                    })
                    .collect();
                v.insert(part.key.to_string(), json!(rows));
            }
            crate::print_json(&serde_json::Value::Object(v))
        }
    }
}

/// `genlab reconstruct`: originals and their reconstructions (PNG:
/// interleaved blocks of 8).
pub fn reconstruct(a: &InferArgs) -> Result<()> {
    let (run, x) = load_rows(a)?;
    let x = first_rows(&x, a.rows)?;
    let r = run.reconstruct(&x)?;
    match &a.out {
        Some(p) if p.extension().and_then(|e| e.to_str()) == Some("png") => {
            output::write_rows(&output::interleave(&x, &r, 8)?, "rows", Some(p))
        }
        other => output::write_rows(&r, "rows", other.as_deref()),
    }
}

/// `genlab interpolate`: decodes the latent segment between rows --from and --to.
pub fn interpolate(a: &InferArgs) -> Result<()> {
    let (run, x) = load_rows(a)?;
    for (name, i) in [("--from", a.from), ("--to", a.to)] {
        if i >= x.rows() {
            return Err(GenError::config(
                name,
                i,
                format!("only {} rows", x.rows()),
                "choose a row index below the row count",
            ));
        }
    }
    let m = run.interpolate(x.row(a.from), x.row(a.to), a.steps)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("interpolation.png"));
    output::write_rows(&m, "rows", Some(&out))
}

/// What a command reads: `--input FILE` as given (`key`: the array of an
/// .npz file), or `--data NAME --split S` prepared by the run as in training.
pub fn input_of(
    run: &dyn LoadedRun,
    input: Option<&std::path::Path>,
    key: Option<&str>,
    data_name: Option<&str>,
    split: gen_data::Split,
) -> Result<Input> {
    match (input, data_name) {
        (Some(p), _) if p.extension().and_then(|e| e.to_str()) == Some("txt") => {
            let text = std::fs::read_to_string(p).map_err(|e| GenError::io(p, e))?;
            Ok(Input::Strings(text.lines().map(str::to_string).collect()))
        }
        (Some(p), _) => Ok(Input::Rows(crate::data::read_rows(p, key)?)),
        (None, Some(d)) => run.prepare(crate::data::load(d, split)?),
        (None, None) => Err(GenError::config(
            "input",
            "none",
            "no rows given",
            "pass --input FILE or --data NAME [--split test]",
        )),
    }
}
