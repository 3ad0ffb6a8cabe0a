//! Checks of the chain state's files, so that a damaged data directory is refused with
//! one clear error instead of crashing the process that maps it.
//!
//! - [`check_files`], at every open: reads LMDB's two meta pages of `data.mdb` with
//!   plain file reads (nothing mapped), checks their magic, version, page size and
//!   roots, and that the file holds every page up to the newest meta's last page. A
//!   `data.mdb` cut short is what made the node die of SIGBUS, as LMDB touched a mapped
//!   page past the end of the file. Costs two page reads.
//! - [`walk`]: reads every record of every table. A corrupt branch or leaf page can make
//!   LMDB itself read out of bounds, so callers run it in a child process (`node
//!   check-datadir`, and the chain module after an unclean shutdown) and report a crash
//!   there as corruption. Costs a read of the whole file.
//!
//! A damaged directory is reported as [`ChainError::Corrupt`] naming the file and what
//! to do (see [`RECOVERY`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use heed::types::Bytes;
use heed::{Database, EnvFlags, EnvOpenOptions};

use super::ChainError;

/// What the operator can do about a damaged chain state.
pub const RECOVERY: &str = "move the data directory aside and start the node on a fresh one \
     (copy the wallet file into it first to keep the wallet), then let it resync from peers \
     or `node import --from-datadir` a good copy; see Operations in the README";

/// The file LMDB keeps the chain state in.
pub const DATA_FILE: &str = "data.mdb";

/// The tables of the chain state, as [`super::store`] creates them.
pub const TABLES: [&str; 9] = [
    "blocks",
    "index",
    "main",
    "utxo",
    "undo",
    "meta",
    "address",
    "tx_index",
    "block_filter",
];

const MDB_MAGIC: u32 = 0xBEEF_C0DE;
const MDB_DATA_VERSION: u32 = 1;
const P_META: u16 = 0x08;
const P_INVALID: u64 = u64::MAX;
/// The page header, then `MDB_meta`: magic, version, address, map size, two `MDB_db`
/// (48 bytes each, the free list's first, its `md_pad` holding the page size), last
/// page, transaction id.
const META_BYTES: usize = 16 + 152;

/// One meta page as read.
#[derive(Debug, Clone, Copy)]
struct Meta {
    page_size: u32,
    last_page: u64,
    txn: u64,
    roots: [u64; 2],
}

fn corrupt(file: &Path, reason: impl std::fmt::Display) -> ChainError {
    ChainError::Corrupt(format!(
        "{}: {reason}; the node cannot start on it: {RECOVERY}",
        file.display()
    ))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// Reads meta page `index` (0 or 1) from `bytes`, the start of that page.
fn parse_meta(bytes: &[u8], index: u64) -> Result<Meta, String> {
    let which = format!("meta page {index}");
    if bytes.len() < META_BYTES {
        return Err(format!("{which} is cut short"));
    }
    if u64_at(bytes, 0) != index || u16_at(bytes, 10) & P_META == 0 {
        return Err(format!("{which} is not a meta page"));
    }
    if u32_at(bytes, 16) != MDB_MAGIC {
        return Err(format!("{which} lacks LMDB's magic number"));
    }
    let version = u32_at(bytes, 20);
    if version != MDB_DATA_VERSION {
        return Err(format!("{which} has LMDB data version {version}"));
    }
    let page_size = u32_at(bytes, 40);
    if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
        return Err(format!("{which} gives a page size of {page_size}"));
    }
    Ok(Meta {
        page_size,
        last_page: u64_at(bytes, 136),
        txn: u64_at(bytes, 144),
        roots: [u64_at(bytes, 80), u64_at(bytes, 128)],
    })
}

/// The cheap check of `dir`'s `data.mdb` (see the module's doc). A missing or empty
/// file is a new chain state.
pub fn check_files(dir: &Path) -> Result<(), ChainError> {
    let path = dir.join(DATA_FILE);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ChainError::from_io(&path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| ChainError::from_io(&path, e))?
        .len();
    if len == 0 {
        return Ok(());
    }
    let mut first = vec![0u8; META_BYTES];
    file.read_exact(&mut first).map_err(|_| {
        corrupt(
            &path,
            format!("{len} bytes, shorter than LMDB's meta pages"),
        )
    })?;
    let meta0 = parse_meta(&first, 0).map_err(|e| corrupt(&path, e))?;
    let page = u64::from(meta0.page_size);
    if len < 2 * page {
        return Err(corrupt(
            &path,
            format!("{len} bytes, shorter than LMDB's two meta pages"),
        ));
    }
    let mut second = vec![0u8; META_BYTES];
    file.seek(SeekFrom::Start(page))
        .and_then(|_| file.read_exact(&mut second))
        .map_err(|e| ChainError::from_io(&path, e))?;
    let meta1 = parse_meta(&second, 1).map_err(|e| corrupt(&path, e))?;
    if meta1.page_size != meta0.page_size {
        return Err(corrupt(&path, "the meta pages disagree on the page size"));
    }
    for (index, meta) in [(0, meta0), (1, meta1)] {
        if let Some(root) = meta
            .roots
            .iter()
            .find(|&&r| r != P_INVALID && r > meta.last_page)
        {
            return Err(corrupt(
                &path,
                format!(
                    "meta page {index} puts a root at page {root}, past its last page {}",
                    meta.last_page
                ),
            ));
        }
    }
    // LMDB opens on the newest meta: every page it may map must be in the file.
    let newest = if meta1.txn > meta0.txn { meta1 } else { meta0 };
    let needed = newest.last_page.saturating_add(1).saturating_mul(page);
    if len < needed {
        return Err(corrupt(
            &path,
            format!("the file is truncated: {len} bytes, but its last page ends at byte {needed}"),
        ));
    }
    Ok(())
}

/// What a full walk read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkReport {
    /// Records read, over every table.
    pub records: u64,
    /// Their keys' and values' bytes.
    pub bytes: u64,
    /// Tables read (those this directory has).
    pub tables: usize,
}

/// Reads every record of every table of the chain state in `dir`, opened read-only.
/// Run it in a child process: a corrupt page may crash LMDB rather than fail.
pub fn walk(dir: &Path) -> Result<WalkReport, ChainError> {
    check_files(dir)?;
    let path = dir.join(DATA_FILE);
    if !path.exists() {
        return Ok(WalkReport::default());
    }
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.max_dbs(TABLES.len() as u32 + 1);
    // SAFETY: read-only, and the caller holds the data directory's lock (no writer);
    // `READ_ONLY` opens without creating or changing anything.
    let env = unsafe {
        options.flags(EnvFlags::READ_ONLY);
        options.open(dir)
    }
    .map_err(|e| corrupt(&path, format!("LMDB cannot open it: {e}")))?;
    let rtxn = env
        .read_txn()
        .map_err(|e| corrupt(&path, format!("no read transaction: {e}")))?;
    let mut report = WalkReport::default();
    for table in TABLES {
        let db: Option<Database<Bytes, Bytes>> = env
            .open_database(&rtxn, Some(table))
            .map_err(|e| corrupt(&path, format!("table {table}: {e}")))?;
        let Some(db) = db else { continue };
        report.tables += 1;
        // What the table says it holds: more records than that is a cycle in its pages,
        // which would otherwise be walked for ever.
        let holds = db
            .len(&rtxn)
            .map_err(|e| corrupt(&path, format!("table {table}: {e}")))?;
        let mut read = 0u64;
        let iter = db
            .iter(&rtxn)
            .map_err(|e| corrupt(&path, format!("table {table}: {e}")))?;
        for record in iter {
            let (key, value) = record.map_err(|e| corrupt(&path, format!("table {table}: {e}")))?;
            read += 1;
            if read > holds {
                return Err(corrupt(
                    &path,
                    format!("table {table} yields more records than the {holds} it holds"),
                ));
            }
            report.records += 1;
            report.bytes += (key.len() + value.len()) as u64;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChainOptions, ChainSpec, ChainState};

    fn state_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let spec = ChainSpec::by_name("regtest").unwrap();
        drop(ChainState::open(dir.path(), spec, ChainOptions::default(), |_| {}).unwrap());
        dir
    }

    fn reopen(dir: &Path) -> Result<(), ChainError> {
        let spec = ChainSpec::by_name("regtest").unwrap();
        ChainState::open(dir, spec, ChainOptions::default(), |_| {}).map(drop)
    }

    #[test]
    fn a_sound_state_passes_both_checks() {
        let dir = state_dir();
        check_files(dir.path()).unwrap();
        let report = walk(dir.path()).unwrap();
        assert_eq!(report.tables, TABLES.len());
        // Genesis: its block, index entry, main-chain entry and the meta records.
        assert!(report.records >= 6, "{report:?}");
        // A new directory has nothing to check.
        check_files(&dir.path().join("nothing")).unwrap();
    }

    #[test]
    fn enospc_and_edquot_are_disk_full_never_io_errors() {
        for errno in [28, 122] {
            let e = crate::store::storage_error(heed::Error::Io(
                std::io::Error::from_raw_os_error(errno),
            ));
            assert!(e.is_disk_full(), "{e}");
            assert!(e.to_string().starts_with("disk full: "), "{e}");
        }
        let e = crate::store::storage_error(heed::Error::Io(std::io::Error::from_raw_os_error(5)));
        assert!(
            !e.is_disk_full() && e.to_string().starts_with("chain storage: "),
            "{e}"
        );
        // The probe finds room here.
        let dir = tempfile::tempdir().unwrap();
        assert!(!super::super::store::disk_full(dir.path()));
    }

    #[test]
    fn a_truncated_file_is_refused_by_name_before_lmdb_maps_it() {
        let dir = state_dir();
        let path = dir.path().join(DATA_FILE);
        let len = std::fs::metadata(&path).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len / 2).unwrap();
        let err = reopen(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("data.mdb") && err.contains("truncated") && err.contains("fresh one"),
            "{err}"
        );
        file.set_len(100).unwrap();
        let err = reopen(dir.path()).unwrap_err().to_string();
        assert!(err.contains("shorter than"), "{err}");
    }

    #[test]
    fn garbled_meta_pages_are_refused() {
        for (at, what) in [(16, "magic"), (0, "not a meta page"), (40, "page size")] {
            let dir = state_dir();
            let path = dir.path().join(DATA_FILE);
            let mut bytes = std::fs::read(&path).unwrap();
            // The second meta page, so the first still gives the page size.
            let page = u32_at(&bytes, 40) as usize;
            bytes[page + at] ^= 0x5a;
            std::fs::write(&path, &bytes).unwrap();
            let err = reopen(dir.path()).unwrap_err().to_string();
            assert!(
                err.contains("meta page 1") && err.contains(what),
                "{what}: {err}"
            );
        }
        // A root past the last page.
        let dir = state_dir();
        let path = dir.path().join(DATA_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[128..136].copy_from_slice(&1_000_000u64.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let err = reopen(dir.path()).unwrap_err().to_string();
        assert!(err.contains("root at page 1000000"), "{err}");
    }
}

/// The arguments, after the program, that make the `node` binary walk a chain state
/// directory and report in the form [`walk_in_child`] reads (`node check-datadir
/// --walk-chain DIR`).
pub const WALK_ARGS: [&str; 2] = ["check-datadir", "--walk-chain"];

/// What a walking child writes before its reason when it found corruption.
pub const CORRUPT_PREFIX: &str = "corrupt: ";

/// How a walk in a child process ended, when it did not find the state sound.
#[derive(Debug)]
pub enum ChildWalkError {
    /// The state is damaged (the child said so, or crashed reading it).
    Corrupt(ChainError),
    /// The child could not be run or said something else: nothing is known.
    NotRun(String),
}

/// Runs [`walk`] of `dir` in a child process of `program` (a `node` binary: [`WALK_ARGS`]
/// then `dir`), so that a corrupt page that crashes LMDB ends the child, not the caller.
/// A crash is reported as corruption of `dir`'s data file.
pub fn walk_in_child(program: &Path, dir: &Path) -> Result<WalkReport, ChildWalkError> {
    use std::io::Read as _;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let mut child = std::process::Command::new(program)
        .args(WALK_ARGS)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ChildWalkError::NotRun(format!("cannot run {}: {e}", program.display())))?;
    // A garbled page can send LMDB round a cycle for ever: the walk gets a minute plus
    // a second per 4 MiB of file (reads run at hundreds of MiB a second), then is
    // killed and the state reported corrupt.
    let len = std::fs::metadata(dir.join(DATA_FILE)).map_or(0, |m| m.len());
    let deadline = std::time::Duration::from_secs(60 + len / (4 << 20));
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ChildWalkError::Corrupt(corrupt(
                    &dir.join(DATA_FILE),
                    format!(
                        "reading every record did not finish in {} s (a cycle in its pages)",
                        deadline.as_secs()
                    ),
                )));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => {
                return Err(ChildWalkError::NotRun(format!(
                    "cannot wait for the walk: {e}"
                )))
            }
        }
    };
    let mut output = std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_end(&mut output.stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_end(&mut output.stderr);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if let Some(signal) = output.status.signal() {
        return Err(ChildWalkError::Corrupt(corrupt(
            &dir.join(DATA_FILE),
            format!("reading every record crashed the checking process (signal {signal})"),
        )));
    }
    if output.status.success() {
        let numbers: Vec<u64> = stdout
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if let [records, bytes, tables] = numbers[..] {
            return Ok(WalkReport {
                records,
                bytes,
                tables: tables as usize,
            });
        }
    }
    match stderr.lines().find_map(|l| l.strip_prefix(CORRUPT_PREFIX)) {
        Some(reason) => Err(ChildWalkError::Corrupt(ChainError::Corrupt(
            reason.to_string(),
        ))),
        None => Err(ChildWalkError::NotRun(format!(
            "{} {} {} answered {}: {}",
            program.display(),
            WALK_ARGS.join(" "),
            dir.display(),
            output.status,
            stderr.trim()
        ))),
    }
}

/// The child's side of [`walk_in_child`]: walks `dir`, prints the report (or the
/// reason, after [`CORRUPT_PREFIX`]) and returns the exit code.
pub fn walk_as_child(dir: &Path) -> std::process::ExitCode {
    match walk(dir) {
        Ok(report) => {
            println!("{} {} {}", report.records, report.bytes, report.tables);
            std::process::ExitCode::SUCCESS
        }
        Err(ChainError::Corrupt(reason)) => {
            eprintln!("{CORRUPT_PREFIX}{reason}");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
