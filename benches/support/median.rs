//! The median of repeated timings: one slow run (a page fault, another process) does not
//! move it.

/// The median of `samples` (the upper one of an even count); `samples` must not be empty.
pub(crate) fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
