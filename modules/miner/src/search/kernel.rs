//! Which hashing kernel runs the search, chosen once at run time from the CPU's features.

use std::fmt;
use std::str::FromStr;

use super::error::SearchError;
use super::job::SearchJob;
use super::portable;
#[cfg(target_arch = "x86_64")]
use super::{avx2::Avx2, avx512::Avx512, sha_ni::ShaNi};

/// The kinds of kernel, widest first. Use this to name a kernel (in a config, a log);
/// use [`Kernel`] to run one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelKind {
    /// Sixteen nonces per AVX-512 vector (x86-64 with AVX-512F and AVX-512BW).
    Avx512,
    /// Eight nonces per AVX2 vector (x86-64 with AVX2).
    Avx2,
    /// The SHA extensions with several nonces in flight (x86-64 with SHA and SSE4.1).
    ShaNi,
    /// `sha2::compress256` one nonce at a time: every CPU.
    Portable,
}

impl KernelKind {
    /// Every kind, in the order [`Kernel::detect`] prefers them.
    pub const ALL: [KernelKind; 4] = [Self::Avx512, Self::ShaNi, Self::Avx2, Self::Portable];

    /// The kind's name in configs and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Avx512 => "avx512",
            Self::Avx2 => "avx2",
            Self::ShaNi => "sha_ni",
            Self::Portable => "portable",
        }
    }
}

impl fmt::Display for KernelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KernelKind {
    type Err = SearchError;

    fn from_str(name: &str) -> Result<Self, SearchError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| SearchError::UnknownKernel {
                name: name.to_owned(),
            })
    }
}

/// A hashing kernel this CPU can run.
///
/// A value exists only for a kernel whose CPU features were detected, so the SIMD code
/// behind it is always safe to call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel(Imp);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Imp {
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512),
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
    #[cfg(target_arch = "x86_64")]
    ShaNi(ShaNi),
    Portable,
}

impl Kernel {
    /// The portable kernel, which every CPU runs.
    pub const PORTABLE: Kernel = Kernel(Imp::Portable);

    /// The fastest kernel this CPU runs: AVX-512, then the SHA extensions, then AVX2, then
    /// portable. Measured on one core here: 37, 17, 14 and 10 million nonces per second;
    /// SHA extensions beat 8-lane AVX2, which matters on CPUs with both and no AVX-512.
    pub fn detect() -> Kernel {
        Self::available()
            .into_iter()
            .next()
            .unwrap_or(Self::PORTABLE)
    }

    /// Every kernel this CPU runs, fastest first; the portable one is always last.
    pub fn available() -> Vec<Kernel> {
        KernelKind::ALL
            .into_iter()
            .filter_map(|kind| Self::new(kind).ok())
            .collect()
    }

    /// The kernel of `kind`, if this CPU has what it needs.
    pub fn new(kind: KernelKind) -> Result<Kernel, SearchError> {
        let imp = match kind {
            #[cfg(target_arch = "x86_64")]
            KernelKind::Avx512 => Avx512::detect().map(Imp::Avx512),
            #[cfg(target_arch = "x86_64")]
            KernelKind::Avx2 => Avx2::detect().map(Imp::Avx2),
            #[cfg(target_arch = "x86_64")]
            KernelKind::ShaNi => ShaNi::detect().map(Imp::ShaNi),
            #[cfg(not(target_arch = "x86_64"))]
            KernelKind::Avx512 | KernelKind::Avx2 | KernelKind::ShaNi => None,
            KernelKind::Portable => Some(Imp::Portable),
        };
        imp.map(Kernel)
            .ok_or(SearchError::UnsupportedKernel { kind })
    }

    /// What kind of kernel this is.
    pub fn kind(self) -> KernelKind {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            Imp::Avx512(_) => KernelKind::Avx512,
            #[cfg(target_arch = "x86_64")]
            Imp::Avx2(_) => KernelKind::Avx2,
            #[cfg(target_arch = "x86_64")]
            Imp::ShaNi(_) => KernelKind::ShaNi,
            Imp::Portable => KernelKind::Portable,
        }
    }

    /// The kernel's name in configs and logs.
    pub fn name(self) -> &'static str {
        self.kind().name()
    }

    /// The first nonce in `start..start + count` that meets the job's target. The caller
    /// keeps the range inside the u32 nonce space.
    pub(crate) fn scan_block(self, job: &SearchJob, start: u32, count: u32) -> Option<u32> {
        debug_assert!(u64::from(start) + u64::from(count) <= 1 << 32);
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            Imp::Avx512(k) => k.scan_block(job, start, count),
            #[cfg(target_arch = "x86_64")]
            Imp::Avx2(k) => k.scan_block(job, start, count),
            #[cfg(target_arch = "x86_64")]
            Imp::ShaNi(k) => k.scan_block(job, start, count),
            Imp::Portable => portable::scan_block(job, start, count),
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in KernelKind::ALL {
            assert_eq!(kind.name().parse::<KernelKind>().ok(), Some(kind));
        }
        assert!(matches!(
            "avx1024".parse::<KernelKind>(),
            Err(SearchError::UnknownKernel { .. })
        ));
    }

    #[test]
    fn available_is_widest_first_and_ends_with_portable() {
        let kinds: Vec<KernelKind> = Kernel::available().iter().map(|k| k.kind()).collect();
        assert_eq!(kinds.last(), Some(&KernelKind::Portable));
        let order = |k: &KernelKind| KernelKind::ALL.iter().position(|x| x == k);
        assert!(kinds.windows(2).all(|w| order(&w[0]) < order(&w[1])));
        assert_eq!(Kernel::detect().kind(), kinds[0]);
    }

    #[test]
    fn new_agrees_with_available() {
        let available = Kernel::available();
        for kind in KernelKind::ALL {
            match Kernel::new(kind) {
                Ok(kernel) => assert!(available.contains(&kernel)),
                Err(SearchError::UnsupportedKernel { kind: k }) => assert_eq!(k, kind),
                Err(other) => panic!("unexpected error {other}"),
            }
        }
    }
}
