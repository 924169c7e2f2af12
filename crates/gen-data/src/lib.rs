//! # gen-data
//!
//! Data for the genlab workspace, in pure Rust (no burn):
//!
//! - [`datasets`]: small real data sets embedded in the crate (gzipped, so a
//!   fresh clone runs offline): MNIST (5,000 digits), UCI 8×8 digits,
//!   Shakespeare, US census surnames and first names, English words.
//!   Provenance and licences: `crates/gen-data/DATASETS.md`.
//! - [`split`]: the canonical train/test splits, [`Split`].
//! - [`mod@catalog`]: the registry `genlab datasets` prints, [`catalog()`] and [`find`].
//! - [`transforms`]: scaling, uniform dequantization (with the "log 256
//!   correction" for bits/dim), dynamic binarization, one-hot labels.
//! - [`vocab`]: [`CharVocab`], character-level tokenisation.
//! - Seeded mini-batches: [`EpochBatcher`] (re-exported from gen-core: the
//!   trainer uses the same one, and a batch is a pure function of (seed, step)).
//! - [`toy2d`]: 2D toy distributions ([`Toy2d`]) with exact log-densities
//!   where they exist.
//! - [`io`]: loaders for user data: MNIST IDX, numeric CSV, NumPy `.npy`, and
//!   `.npz` archives (read and written).
//!
//! Every fallible function returns [`gen_core::Result`]; messages say what is
//! wrong and how to fix it.
//!
//! ```
//! use gen_core::rng_from_seed;
//! use gen_data::{EpochBatcher, Split, Toy2d, digits8x8};
//!
//! // real images: raw grey levels, dequantized to [0, 1) for a density model
//! let train = digits8x8(Split::Train)?;
//! assert_eq!((train.len(), train.dims(), train.levels), (1500, 64, 17));
//! let mut rng = rng_from_seed(0);
//! let x = train.dequantized(&mut rng)?;
//! let batches = EpochBatcher::new(x.rows(), 128, 0)?;
//! for step in 0..batches.batches_per_epoch() {
//!     let _rows = x.select_rows(&batches.indices(step))?;
//! }
//!
//! // a toy with an exact density
//! let pts = Toy2d::EightGaussians.sample(1000, 42);
//! let log_p = Toy2d::EightGaussians.log_prob(&pts)?.expect("closed form");
//! assert_eq!(log_p.len(), 1000);
//! # Ok::<(), gen_core::GenError>(())
//! ```
#![warn(missing_docs)]

pub mod catalog;
pub mod datasets;
pub mod image;
pub mod io;
pub mod prep;
pub mod split;
pub mod toy2d;
pub mod transforms;
pub mod vocab;

pub use catalog::{DatasetInfo, DatasetKind, Size, catalog, catalog_table, find};
pub use datasets::{
    ImageDataset, census_first_names, census_surnames, digits8x8, english_words, mnist5k,
    shakespeare,
};
pub use gen_core::train::EpochBatcher;
pub use split::Split;
pub use toy2d::{CircleArc, Toy2d};
pub use transforms::{binarize, dequantize, one_hot, scale_unit};
pub use vocab::CharVocab;
