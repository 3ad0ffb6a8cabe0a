//! What can go wrong when setting up a nonce search.

/// An error from choosing a kernel or starting the search threads.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A kernel was asked for by name that this build does not know.
    #[error("unknown mining kernel {name:?}: expected one of avx512, avx2, sha_ni, portable")]
    UnknownKernel {
        /// The name given.
        name: String,
    },
    /// A kernel was asked for that this CPU cannot run.
    #[error("mining kernel {kind} needs CPU features this machine does not have")]
    UnsupportedKernel {
        /// The kernel asked for.
        kind: super::KernelKind,
    },
    /// The search threads could not be started.
    #[error("cannot start {threads} mining threads: {source}")]
    ThreadPool {
        /// How many threads were asked for.
        threads: usize,
        /// Why rayon failed.
        source: rayon::ThreadPoolBuildError,
    },
}
