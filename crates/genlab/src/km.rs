//! `genlab km ...`: the Kleinberg–Mullainathan generation game.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use gen_ar::sequence::{CharWordsGenerator, WordsModel};
use gen_core::{GenError, Result};
use gen_km_game::{
    NGramGenerator, RunSpec, StringGenerator, run_from_spec, words_experiment, words_table,
};

/// The KM game subcommands.
#[derive(Subcommand, Debug)]
pub enum KmCommand {
    /// List collections (and how to name targets), adversaries and learners.
    List,
    /// Play one game and print its summary as JSON; writes a PNG of validity,
    /// novelty and density over time.
    Run(KmRunArgs),
    /// The bridge to neural generation: validity and novelty of a string
    /// generator trained on a growing subset of the English word list.
    Words(KmWordsArgs),
    /// Run every learner against every collection and adversary; print a Markdown table.
    Table {
        /// Horizon T.
        #[arg(long, default_value_t = 200)]
        horizon: usize,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// The names of a `(name, description)` table as choices.
fn names(
    field: &'static str,
    table: &[(&'static str, &'static str)],
) -> crate::choices::Choices<String> {
    let names: Vec<&'static str> = table.iter().map(|(n, _)| *n).collect();
    crate::choices::listed(field, &names)
}

/// Options of `genlab km run`.
#[derive(Args, Debug)]
pub struct KmRunArgs {
    /// Collection name (see `genlab km list`), or `dfa:...`.
    #[arg(long)]
    collection: String,
    /// Target language index z (1-based): K = L_z.
    #[arg(long)]
    target: usize,
    /// Adversary (see `genlab km list`).
    #[arg(long, default_value = "ascending", value_parser = names("adversary", gen_km_game::spec::ADVERSARIES))]
    adversary: String,
    /// Learner (see `genlab km list`).
    #[arg(long, default_value = "km", value_parser = names("learner", gen_km_game::spec::LEARNERS))]
    learner: String,
    /// Horizon T (number of steps).
    #[arg(long, default_value_t = 200)]
    horizon: usize,
    /// Seed (random adversary).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the PNG.
    #[arg(long, default_value = "km_run.png")]
    png: PathBuf,
    /// Also print every step.
    #[arg(long)]
    steps: bool,
}

/// Options of `genlab km words`.
#[derive(Args, Debug)]
pub struct KmWordsArgs {
    /// Numbers of seen words at which to measure.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10,100,1000,3000,10000,30000,63875"
    )]
    seen: Vec<usize>,
    /// The generator: a character n-gram (add-k 0.01), or a character GPT
    /// or LSTM trained from scratch on every seen set.
    #[arg(long, default_value = "ngram", value_parser = crate::choices::listed("generator", &WORDS_GENERATORS))]
    generator: String,
    /// n-gram order of the generator (ngram).
    #[arg(long, default_value_t = 4)]
    order: usize,
    /// Training steps per seen set (char-gpt, lstm; batches of 32 words).
    #[arg(long = "words-steps", default_value_t = 2000)]
    words_steps: u64,
    /// Device of the neural generators.
    #[arg(long = "words-backend", default_value = "flex", value_parser = crate::choices::backend())]
    words_backend: gen_core::Backend,
    /// Samples per point.
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the PNG of the curves.
    #[arg(long, default_value = "km_words.png")]
    png: PathBuf,
}

/// The generators of `genlab km words`.
const WORDS_GENERATORS: [&str; 3] = ["ngram", "char-gpt", "lstm"];

/// Runs a `genlab km` subcommand.
pub fn run(cmd: &KmCommand) -> Result<()> {
    match cmd {
        KmCommand::List => crate::emit(&gen_km_game::list()),
        KmCommand::Run(a) => {
            let spec = RunSpec::new(&a.collection, a.target, &a.adversary, &a.learner, a.horizon)
                .with_seed(a.seed);
            let report = run_from_spec(&spec)?;
            gen_km_game::plot::write_run_png(&report, &a.png)?;
            crate::emit(&format!(
                "{}\n",
                if a.steps {
                    report.to_json()
                } else {
                    report.summary_json()
                }
            ))?;
            eprintln!(
                "wrote {} and {}",
                a.png.display(),
                a.png.with_extension("svg").display()
            );
            Ok(())
        }
        KmCommand::Words(a) => {
            let words = gen_data::english_words(gen_data::Split::All)?;
            if a.seen.iter().any(|&s| s == 0 || s > words.len()) {
                return Err(GenError::config(
                    "--seen",
                    format!("{:?}", a.seen),
                    format!("each size must be between 1 and {}", words.len()),
                    "pass sizes like 10,100,1000",
                ));
            }
            let mut generator: Box<dyn StringGenerator> = match a.generator.as_str() {
                "ngram" => Box::new(NGramGenerator::new(a.order, 0.01, a.temperature, 40)),
                neural => {
                    let model = if neural == "lstm" {
                        WordsModel::Lstm { hidden: 128 }
                    } else {
                        WordsModel::Gpt { width: 64 }
                    };
                    let mut g = CharWordsGenerator::new(model, a.words_steps, 32, 1e-3);
                    g.temperature = a.temperature;
                    g.backend = a.words_backend;
                    Box::new(g)
                }
            };
            eprintln!("generator: {}", generator.name());
            let points = words_experiment(&words, &a.seen, generator.as_mut(), a.samples, a.seed)?;
            let title = format!("english words: {}", a.generator);
            gen_km_game::plot::write_words_png(&points, &title, &a.png)?;
            crate::emit(&words_table(&points))?;
            eprintln!(
                "wrote {} and {}",
                a.png.display(),
                a.png.with_extension("svg").display()
            );
            Ok(())
        }
        KmCommand::Table { horizon, seed } => {
            crate::emit(&gen_km_game::results_table(*horizon, *seed)?)
        }
    }
}
