use super::*;
use proptest::prelude::*;

proptest! {
    /// The shards of n rows over R ranks are equal, disjoint and cover 0..n.
    #[test]
    fn shards_partition_the_batch(per in 1usize..50, size in 1usize..9) {
        let n = per * size;
        let mut seen = vec![0u8; n];
        for rank in 0..size {
            let r = shard_range(n, rank, size).unwrap();
            prop_assert_eq!(r.len(), per);
            for i in r {
                seen[i] += 1;
            }
        }
        prop_assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn uneven_batches_are_refused_with_a_fix(n in 1usize..200, size in 2usize..9) {
        prop_assume!(n % size != 0);
        let e = shard_range(n, 0, size).unwrap_err().to_string();
        prop_assert!(e.contains("does not split evenly") && e.contains("divisible"), "{}", e);
    }
}

#[test]
fn ranks_outside_the_world_are_refused() {
    assert!(shard_range(8, 2, 2).is_err());
    assert!(shard_range(8, 0, 0).is_err());
}

#[test]
fn packed_directories_round_trip() {
    let base = std::env::temp_dir().join(format!("gen-core-pack-{}", std::process::id()));
    let (src, dst) = (base.join("src"), base.join("dst"));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(src.join("model")).unwrap();
    std::fs::write(src.join("trainer.json"), b"{\"step\": 3}").unwrap();
    std::fs::write(src.join("model/net.bpk"), vec![7u8; 1000]).unwrap();
    std::fs::write(src.join("model/empty"), b"").unwrap();
    let bytes = pack_dir(&src).unwrap();
    unpack_dir(&bytes, &dst).unwrap();
    for f in ["trainer.json", "model/net.bpk", "model/empty"] {
        assert_eq!(
            std::fs::read(src.join(f)).unwrap(),
            std::fs::read(dst.join(f)).unwrap()
        );
    }
    // A truncated message is an error, not a panic.
    assert!(unpack_dir(&bytes[..bytes.len() - 1], &base.join("bad")).is_err());
    let _ = std::fs::remove_dir_all(&base);
}

/// Runs `f(rank)` on `size` threads, each with its member of one group installed.
fn on_threads<T: Send + 'static>(
    size: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = std::sync::Arc::new(f);
    let handles: Vec<_> = ThreadGroup::create(size)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(rank, member)| {
            let f = f.clone();
            std::thread::spawn(move || {
                let _world = install(member);
                f(rank)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn thread_collectives_sum_gather_and_broadcast() {
    let out = on_threads(3, |rank| {
        let w = world().unwrap();
        assert_eq!((w.rank(), w.size(), w.engine()), (rank, 3, "threads"));
        let mut a = vec![rank as f32, 1.0];
        w.all_reduce_sum_f32(&mut a).unwrap();
        let all = gather_f64(&*w, 10.0 * rank as f64).unwrap();
        let mut b = if rank == 1 {
            b"from one".to_vec()
        } else {
            Vec::new()
        };
        w.broadcast_bytes(1, &mut b).unwrap();
        (a, all, b)
    });
    for (a, all, b) in out {
        assert_eq!(a, vec![3.0, 3.0]);
        assert_eq!(all, vec![0.0, 10.0, 20.0]);
        assert_eq!(b, b"from one".to_vec());
    }
    assert_eq!(
        non_finite_ranks(&[1.0, f64::NAN, 2.0, f64::INFINITY]),
        vec![1, 3]
    );
}

#[test]
fn without_a_world_there_is_one_rank_and_no_syncing() {
    assert!(world().is_none());
    assert_eq!((rank(), size()), (0, 1));
    assert!(syncing().is_none());
}

#[test]
fn ranks_that_disagree_all_stop_with_the_same_error() {
    // Rank 2 was started with other options: every rank learns it at once,
    // and rank 2 says where it differs.
    let out = on_threads(3, |rank| {
        let w = world().unwrap();
        let mine = if rank == 2 {
            "model = vae\nsteps = 11\nseed = 0"
        } else {
            "model = vae\nsteps = 10\nseed = 0"
        };
        check_agreement(&*w, "the model and its options", mine)
    });
    for (rank, r) in out.into_iter().enumerate() {
        match r {
            Err(e @ GenError::RanksDisagree { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.starts_with(
                        "rank(s) [2] of 3 disagree with rank 0 on the model and its options"
                    ),
                    "{msg}"
                );
                assert!(msg.contains("Fix:"), "{msg}");
                let detail = ": rank 2 has `steps = 11` where rank 0 has `steps = 10`";
                // Every rank says where rank 2 differs, not rank 2 alone.
                assert!(msg.contains(detail), "rank {rank}: {msg}");
            }
            other => panic!("expected RanksDisagree, got {other:?}"),
        }
    }
    // Agreeing ranks pass.
    let ok = on_threads(2, |_| {
        check_agreement(&*world().unwrap(), "the model", "same")
    });
    assert!(ok.iter().all(|r| r.is_ok()));
}

#[test]
fn device_lists_need_each_gpu_once() {
    assert!(check_device_list(&[0, 1, 3]).is_ok());
    let e = check_device_list(&[]).unwrap_err().to_string();
    assert!(
        e.contains("at least one CUDA device") && e.contains("--devices 0,1"),
        "{e}"
    );
    let e = check_device_list(&[0, 1, 0]).unwrap_err().to_string();
    assert!(e.contains("listed twice"), "{e}");
}

#[test]
fn a_failing_or_panicking_rank_stops_the_others_instead_of_hanging() {
    // Rank 1 fails after one all-reduce; ranks 0 and 2 are waiting in the
    // second one and must return, and the error is rank 1's own.
    let e = run_on_threads(3, |rank| {
        let w = world().expect("installed");
        let mut a = [1.0f32];
        w.all_reduce_sum_f32(&mut a)?;
        assert_eq!(a, [3.0]);
        if rank == 1 {
            return Err(GenError::Other("rank one ran out of data".into()));
        }
        w.all_reduce_sum_f32(&mut a)?;
        Ok(a[0])
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("rank one ran out of data"), "{e}");

    let e = run_on_threads(2, |rank| {
        let w = world().expect("installed");
        if rank == 0 {
            panic!("boom");
        }
        let mut a = [0.0f64];
        w.all_reduce_sum_f64(&mut a)
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("rank 0 panicked"), "{e}");

    // Buffers of different lengths: an error on every rank, not a hang.
    let e = run_on_threads(2, |rank| {
        let w = world().expect("installed");
        let mut a = vec![0.0f32; rank + 1];
        w.all_reduce_sum_f32(&mut a)?;
        w.all_reduce_sum_f32(&mut a)
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("different lengths"), "{e}");

    // Success: every rank's result, in rank order.
    let ranks = run_on_threads(4, |rank| {
        let w = world().expect("installed");
        let mut a = [rank as f32];
        w.all_reduce_sum_f32(&mut a)?;
        Ok((rank, a[0]))
    })
    .unwrap();
    assert_eq!(ranks, vec![(0, 6.0), (1, 6.0), (2, 6.0), (3, 6.0)]);
}
