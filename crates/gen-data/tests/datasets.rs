//! The embedded data sets: row counts, canonical splits, value ranges, and the
//! catalogue agreeing with what actually loads.

use gen_data::{
    CharVocab, DatasetKind, Size, Split, catalog, census_first_names, census_surnames, digits8x8,
    english_words, find, mnist5k, shakespeare,
};

fn per_class(labels: &[u8]) -> Vec<usize> {
    let mut c = vec![0; 10];
    for &l in labels {
        c[l as usize] += 1;
    }
    c
}

#[test]
fn mnist5k_counts_split_and_pixels() {
    let all = mnist5k(Split::All).unwrap();
    assert_eq!((all.len(), all.images.cols()), (5_000, 784));
    assert_eq!((all.height, all.width, all.levels), (28, 28, 256));
    assert_eq!(all.num_classes(), 10);
    // the file is sorted by label, 500 per class
    assert_eq!(per_class(&all.labels), vec![500; 10]);
    assert!(all.labels.windows(2).all(|w| w[0] <= w[1]));
    let px = all.images.as_slice();
    assert!(
        px.iter()
            .all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0)
    );
    assert_eq!(px.iter().copied().fold(0.0, f64::max), 255.0);
    // MNIST digits are mostly background: roughly 80% zero pixels, mean ≈ 33
    let mean = px.iter().sum::<f64>() / px.len() as f64;
    assert!((25.0..45.0).contains(&mean), "{mean}");

    let test = mnist5k(Split::Test).unwrap();
    let train = mnist5k(Split::Train).unwrap();
    assert_eq!((train.len(), test.len()), (4_500, 500));
    // i % 10 == 9 on a label-sorted file: exactly 50 test images per class
    assert_eq!(per_class(&test.labels), vec![50; 10]);
    assert_eq!(per_class(&train.labels), vec![450; 10]);
    // test row k is row 10k + 9 of the file; train row k skips every tenth row
    assert_eq!(test.images.row(0), all.images.row(9));
    assert_eq!(test.images.row(499), all.images.row(4_999));
    assert_eq!(train.images.row(9), all.images.row(10));
    assert_eq!(train.images.row(8), all.images.row(8));
}

#[test]
fn digits_counts_split_and_pixels() {
    let all = digits8x8(Split::All).unwrap();
    assert_eq!((all.len(), all.images.cols()), (1_797, 64));
    assert_eq!(
        (all.height, all.width, all.levels, all.num_classes()),
        (8, 8, 17, 10)
    );
    let px = all.images.as_slice();
    assert!(
        px.iter()
            .all(|&v| (0.0..=16.0).contains(&v) && v.fract() == 0.0)
    );
    assert_eq!(px.iter().copied().fold(0.0, f64::max), 16.0);
    let train = digits8x8(Split::Train).unwrap();
    let test = digits8x8(Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (1_500, 297));
    assert_eq!(train.images.row(1_499), all.images.row(1_499));
    assert_eq!(test.images.row(0), all.images.row(1_500));
    assert_eq!(test.labels[296], all.labels[1_796]);
    // every class is present in both parts (about 180 of each in the file)
    assert!(
        per_class(&all.labels)
            .iter()
            .all(|&c| (170..=190).contains(&c))
    );
    assert!(per_class(&test.labels).iter().all(|&c| c > 20));
    // transforms on the real data
    let s = all.scaled().unwrap();
    assert!(s.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
    let oh = all.one_hot_labels().unwrap();
    assert_eq!(oh.shape(), (1_797, 10));
    assert!(oh.iter_rows().all(|r| r.iter().sum::<f64>() == 1.0));
}

#[test]
fn shakespeare_split_90_10() {
    let all = shakespeare(Split::All).unwrap();
    let train = shakespeare(Split::Train).unwrap();
    let val = shakespeare(Split::Test).unwrap();
    assert_eq!(all.len(), 5_057_198);
    assert!(all.is_ascii());
    // nanoGPT: train = data[:int(n * 0.9)]
    assert_eq!(train.len(), (5_057_198f64 * 0.9) as usize);
    assert_eq!(val.len(), 505_720);
    assert_eq!(format!("{train}{val}"), all);
    // a character vocabulary built on train covers validation here
    let v = CharVocab::from_text(&train);
    assert!(v.len() > 60 && v.len() < 100, "{}", v.len());
    let ids = v.encode(&val[..10_000]).unwrap();
    assert_eq!(v.decode(&ids).unwrap(), &val[..10_000]);
}

#[test]
fn word_lists_counts_and_split_rule() {
    type Loader = fn(Split) -> gen_core::Result<Vec<String>>;
    let cases: [(Loader, usize, usize, &str); 3] = [
        (english_words, 63_875, 6_387, "aardvark"),
        (census_surnames, 88_799, 8_879, "aaberg"),
        (census_first_names, 5_163, 516, "aaron"),
    ];
    for (load, n, n_test, early) in cases {
        let all = load(Split::All).unwrap();
        let train = load(Split::Train).unwrap();
        let test = load(Split::Test).unwrap();
        assert_eq!(all.len(), n);
        assert!(all[..3].iter().any(|w| w == early), "{:?}", &all[..3]);
        assert!(
            all.iter()
                .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
        );
        // sorted, as the README says
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        // #{i < n : i % 10 == 9} = ⌊n / 10⌋
        assert_eq!(test.len(), n_test);
        assert_eq!(n_test, n / 10);
        assert_eq!(train.len() + test.len(), n);
        for (k, w) in test.iter().enumerate().take(100) {
            assert_eq!(w, &all[10 * k + 9]);
        }
        // a vocabulary of 26 letters plus end-of-sequence
        let v = CharVocab::from_words(&all).with_eos();
        assert_eq!(v.len(), 27);
    }
}

#[test]
fn catalogue_matches_the_loaded_data() {
    let real = |name: &str| find(name).unwrap();
    let check = |name: &str, all: usize, train: usize, test: usize| {
        let d = real(name);
        assert_eq!(
            (d.size, d.train, d.test),
            (Size::Count(all), Size::Count(train), Size::Count(test)),
            "{name}"
        );
    };
    check(
        "mnist5k",
        5_000,
        mnist5k(Split::Train).unwrap().len(),
        mnist5k(Split::Test).unwrap().len(),
    );
    check(
        "digits",
        1_797,
        digits8x8(Split::Train).unwrap().len(),
        digits8x8(Split::Test).unwrap().len(),
    );
    check(
        "shakespeare",
        shakespeare(Split::All).unwrap().len(),
        shakespeare(Split::Train).unwrap().len(),
        shakespeare(Split::Test).unwrap().len(),
    );
    for (name, load) in [
        ("english-words", english_words as fn(Split) -> _),
        ("surnames", census_surnames),
        ("first-names", census_first_names),
    ] {
        check(
            name,
            load(Split::All).unwrap().len(),
            load(Split::Train).unwrap().len(),
            load(Split::Test).unwrap().len(),
        );
    }
    assert_eq!(
        catalog()
            .iter()
            .filter(|d| d.kind == DatasetKind::Toy2d)
            .count(),
        8
    );
}
