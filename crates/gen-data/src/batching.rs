//! Seeded mini-batches of row indices.

use gen_core::{GenError, Result, Rng};
use rand::seq::SliceRandom;

fn check_batch_size(batch_size: usize, context: &str) -> Result<()> {
    if batch_size == 0 {
        return Err(GenError::config(
            "batch_size",
            0,
            format!("{context} needs at least one row per batch"),
            "pass a batch size of 1 or more (e.g. 128)",
        ));
    }
    Ok(())
}

/// One epoch of shuffled mini-batches over the row indices `0..n`.
///
/// The permutation is a Fisher–Yates shuffle driven by `rng` (rand's
/// `SliceRandom::shuffle`), so the same seed gives the same batches; pass the
/// same advancing `rng` every epoch for a new order each time. Batches have
/// `batch_size` indices except possibly the last, which is dropped when
/// `drop_last` is true and it is short. Every index appears exactly once in
/// the epoch (unless it falls in a dropped final batch).
///
/// Errors if `batch_size` is 0.
pub fn shuffled_batches(
    n: usize,
    batch_size: usize,
    rng: &mut Rng,
    drop_last: bool,
) -> Result<Vec<Vec<usize>>> {
    check_batch_size(batch_size, "shuffled_batches")?;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(rng);
    Ok(chunk(idx, batch_size, drop_last))
}

/// Batches of the row indices `0..n` in order (for evaluation), the last one
/// possibly short. Errors if `batch_size` is 0.
pub fn sequential_batches(n: usize, batch_size: usize) -> Result<Vec<Vec<usize>>> {
    check_batch_size(batch_size, "sequential_batches")?;
    Ok(chunk((0..n).collect(), batch_size, false))
}

fn chunk(idx: Vec<usize>, batch_size: usize, drop_last: bool) -> Vec<Vec<usize>> {
    idx.chunks(batch_size)
        .filter(|c| !drop_last || c.len() == batch_size)
        .map(<[usize]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::rng_from_seed;

    #[test]
    fn every_index_once_per_epoch() {
        let mut rng = rng_from_seed(7);
        for epoch in 0..3 {
            let b = shuffled_batches(103, 10, &mut rng, false).unwrap();
            assert_eq!(b.len(), 11, "epoch {epoch}");
            assert!(b[..10].iter().all(|x| x.len() == 10));
            assert_eq!(b[10].len(), 3);
            let mut all: Vec<usize> = b.concat();
            all.sort_unstable();
            assert_eq!(all, (0..103).collect::<Vec<_>>());
        }
    }

    #[test]
    fn deterministic_for_a_seed_and_shuffled() {
        let a = shuffled_batches(50, 8, &mut rng_from_seed(1), true).unwrap();
        let b = shuffled_batches(50, 8, &mut rng_from_seed(1), true).unwrap();
        let c = shuffled_batches(50, 8, &mut rng_from_seed(2), true).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a.concat(), (0..48).collect::<Vec<_>>());
        // consecutive epochs from one rng differ
        let mut rng = rng_from_seed(1);
        let e1 = shuffled_batches(50, 8, &mut rng, false).unwrap();
        let e2 = shuffled_batches(50, 8, &mut rng, false).unwrap();
        assert_ne!(e1, e2);
    }

    #[test]
    fn drop_last_and_edge_cases() {
        let mut rng = rng_from_seed(0);
        let b = shuffled_batches(50, 8, &mut rng, true).unwrap();
        assert_eq!(b.len(), 6);
        assert!(b.iter().all(|x| x.len() == 8));
        assert_eq!(shuffled_batches(40, 8, &mut rng, true).unwrap().len(), 5);
        assert!(shuffled_batches(0, 8, &mut rng, false).unwrap().is_empty());
        assert!(shuffled_batches(5, 8, &mut rng, true).unwrap().is_empty());
        let e = shuffled_batches(5, 0, &mut rng, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch_size") && e.contains("Fix"), "{e}");
        assert_eq!(
            sequential_batches(5, 2).unwrap(),
            vec![vec![0, 1], vec![2, 3], vec![4]]
        );
        assert!(sequential_batches(5, 0).is_err());
    }

    #[test]
    fn permutation_is_uniform_enough() {
        // position of index 0 after shuffling 4 items: uniform over 4 places
        let mut rng = rng_from_seed(11);
        let mut counts = [0usize; 4];
        let trials = 40_000;
        for _ in 0..trials {
            let b = shuffled_batches(4, 4, &mut rng, false).unwrap();
            let pos = b[0].iter().position(|&i| i == 0).unwrap();
            counts[pos] += 1;
        }
        for c in counts {
            // expected 10,000, sd ≈ 87
            assert!((c as f64 - 10_000.0).abs() < 500.0, "{counts:?}");
        }
    }
}
