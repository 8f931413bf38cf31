//! Whether verifying a wrong secret takes a time that depends on how much of it is right, in the
//! manner of dudect: many measurements of two classes of input, interleaved at random, compared
//! with Welch's t-test. Class A is the stored hash with its first byte wrong, class B with all but
//! its last byte right. `SecretHash::verify` (what `ApiKey::check` compares with) must show no
//! difference (|t| < 4.5 under every crop); an early-exit comparison measured the same way must
//! show one, so that the test is known to see a leak when there is one.
//!
//! Not run in CI: timing needs an optimised build and a machine that is not busy.
//!
//! ```text
//! cargo test --release -p keyward-core --test timing -- --ignored --nocapture
//! KEYWARD_TIMING_SAMPLES=10000000 cargo test --release -p keyward-core --test timing -- --ignored --nocapture
//! ```

use std::hint::black_box;
use std::time::Instant;

use keyward_core::hash::{Hasher, SecretHash};

/// Measurements of both classes together, unless `KEYWARD_TIMING_SAMPLES` says otherwise.
const SAMPLES: usize = 1_000_000;
/// Comparisons timed together in one measurement, so that each lasts a thousand times the
/// clock's resolution.
const BATCH: usize = 256;
/// The usual pass mark of dudect: beyond it, the two classes differ.
const THRESHOLD: f64 = 4.5;
/// Measurements over these percentiles of all of them are left out, one t-test each (dudect's
/// crops: the slow tail is mostly interruptions, not the code).
const CROPS: [f64; 7] = [100.0, 99.9, 99.0, 95.0, 90.0, 75.0, 50.0];

/// The stored hash, and the two wrong ones: first byte wrong, and only the last byte wrong.
fn inputs() -> (SecretHash, [SecretHash; 2]) {
    let stored = Hasher::sha256().hash("kw_live_abcdefgh_0123456789abcdefghijklmnopqrstuv");
    let mut first_wrong = *stored.as_bytes();
    first_wrong[0] ^= 0x01;
    let mut last_wrong = *stored.as_bytes();
    last_wrong[31] ^= 0x01;
    (
        stored,
        [
            SecretHash::from_bytes(first_wrong),
            SecretHash::from_bytes(last_wrong),
        ],
    )
}

/// Times `compare(stored, class input)` in batches, the class of each measurement drawn at random;
/// the measurements of each class, in nanoseconds.
fn measure(samples: usize, compare: impl Fn(&SecretHash, &SecretHash) -> bool) -> [Vec<f64>; 2] {
    let (stored, wrong) = inputs();
    let classes: Vec<usize> = (0..samples)
        .map(|_| usize::from(rand::random::<bool>()))
        .collect();
    let mut times = [
        Vec::with_capacity(samples / 2 + 1),
        Vec::with_capacity(samples / 2 + 1),
    ];
    // Warm up caches and the branch predictor on both classes.
    for class in classes.iter().take(10_000) {
        black_box(compare(black_box(&stored), black_box(&wrong[*class])));
    }
    // Both classes are compared from this one place in memory, so that only their contents differ.
    let mut candidate = wrong[0];
    for &class in &classes {
        candidate.clone_from(black_box(&wrong[class]));
        let started = Instant::now();
        for _ in 0..BATCH {
            let equal = compare(black_box(&stored), black_box(&candidate));
            black_box(equal);
        }
        times[class].push(started.elapsed().as_nanos() as f64);
    }
    times
}

/// Welch's t of the two samples; infinite when a crop left (almost) nothing of one class: the two
/// are then apart.
fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    if a.len() < 2 || b.len() < 2 {
        return f64::INFINITY;
    }
    fn mean_var(x: &[f64]) -> (f64, f64) {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }
    let ((ma, va), (mb, vb)) = (mean_var(a), mean_var(b));
    let se = (va / a.len() as f64 + vb / b.len() as f64).sqrt();
    if se == 0.0 { 0.0 } else { (ma - mb) / se }
}

/// One t per crop: the measurements at or under that percentile of both classes together.
fn t_per_crop(times: &[Vec<f64>; 2]) -> Vec<(f64, f64, usize)> {
    let mut all: Vec<f64> = times.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    CROPS
        .iter()
        .map(|&percentile| {
            let index = ((all.len() - 1) as f64 * percentile / 100.0).round() as usize;
            let limit = all[index];
            let kept = |class: &Vec<f64>| class.iter().copied().filter(|t| *t <= limit).collect::<Vec<_>>();
            let (a, b) = (kept(&times[0]), kept(&times[1]));
            (percentile, welch_t(&a, &b), a.len() + b.len())
        })
        .collect()
}

/// Measures `compare`, prints each crop's t, and answers the largest |t|.
fn largest_t(name: &str, samples: usize, compare: impl Fn(&SecretHash, &SecretHash) -> bool) -> f64 {
    let times = measure(samples, compare);
    let median = |class: &Vec<f64>| {
        let mut sorted = class.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2] / BATCH as f64
    };
    println!(
        "{name}: {} + {} measurements of {BATCH} comparisons; median per comparison {:.2} ns \
         (first byte wrong) and {:.2} ns (last byte wrong)",
        times[0].len(),
        times[1].len(),
        median(&times[0]),
        median(&times[1])
    );
    let mut largest: f64 = 0.0;
    for (percentile, t, kept) in t_per_crop(&times) {
        println!("  crop at p{percentile:<5}: t = {t:+8.2} over {kept} measurements");
        largest = largest.max(t.abs());
    }
    println!("  max |t| = {largest:.2}");
    largest
}

/// An early-exit comparison, byte by byte: the leak the test must be able to see.
fn early_exit(a: &SecretHash, b: &SecretHash) -> bool {
    for (x, y) in a.as_bytes().iter().zip(b.as_bytes()) {
        if black_box(*x) != *y {
            return false;
        }
    }
    true
}

#[test]
#[ignore = "a timing measurement: run with --release on a quiet machine (see the file's header)"]
fn verify_time_does_not_depend_on_how_many_leading_bytes_match() {
    let samples = std::env::var("KEYWARD_TIMING_SAMPLES")
        .ok()
        .map_or(SAMPLES, |n| n.parse().expect("KEYWARD_TIMING_SAMPLES is a count"));
    let (stored, wrong) = inputs();
    assert!(wrong.iter().all(|w| !stored.verify(w)) && stored.verify(&stored));

    let control = largest_t("early-exit comparison (control)", samples, early_exit);
    assert!(
        control > THRESHOLD,
        "the control's leak was not seen (max |t| {control:.2}): the measurement cannot be trusted"
    );
    let verify = largest_t("SecretHash::verify", samples, SecretHash::verify);
    assert!(
        verify < THRESHOLD,
        "verification time depends on the matching prefix: max |t| = {verify:.2}"
    );
}
