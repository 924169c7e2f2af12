//! Trains the embedded feature extractors deterministically and writes them to
//! `crates/gen-eval/extractors/{mnist,digits}.bpk`; prints test accuracies.
//!
//! ```text
//! cargo run -p gen-eval --example train_extractors            # both
//! cargo run -p gen-eval --example train_extractors -- mnist   # one
//! ```
//!
//! Rebuild afterwards so `include_bytes!` embeds the new weights.

use std::path::PathBuf;

use gen_data::Split;
use gen_eval::extractor::{ExtractorKind, ExtractorTraining, train_extractor};

fn main() -> gen_core::Result<()> {
    let kinds: Vec<ExtractorKind> = match std::env::args().nth(1) {
        Some(k) => vec![k.parse()?],
        None => vec![ExtractorKind::Digits, ExtractorKind::Mnist],
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for kind in kinds {
        let (train, test) = match kind {
            ExtractorKind::Mnist => (
                gen_data::mnist5k(Split::Train)?,
                gen_data::mnist5k(Split::Test)?,
            ),
            ExtractorKind::Digits => (
                gen_data::digits8x8(Split::Train)?,
                gen_data::digits8x8(Split::Test)?,
            ),
        };
        let settings = ExtractorTraining::for_kind(kind);
        let run_dir = std::env::temp_dir().join(format!("genlab-extractor-{}", kind.name()));
        let (ex, report) = train_extractor(
            kind,
            &train.images,
            &train.labels,
            &settings,
            &run_dir,
            true,
        )?;
        let train_acc = ex.accuracy(&train.images, &train.labels)?;
        let test_acc = ex.accuracy(&test.images, &test.labels)?;
        let path = root.join("extractors").join(format!("{}.bpk", kind.name()));
        ex.save(&path)?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "{}: {} steps in {:.1} s, final loss {:.4}; accuracy train {:.4} ({} images), test {:.4} ({} images); wrote {} ({} bytes)",
            kind.name(),
            report.steps,
            report.seconds,
            report.final_loss,
            train_acc,
            train.len(),
            test_acc,
            test.len(),
            path.display(),
            bytes
        );
    }
    Ok(())
}
