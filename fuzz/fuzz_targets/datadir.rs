//! A node's chain state on corrupted LMDB bytes: what the node does at start after an
//! unclean stop (the cheap file check in its own process, then every record read and the
//! state opened in a child process) must end in a clean open or a clean error.
//!
//! Input: patches to a real chain state's `data.mdb` (regtest, 110 blocks, the last with payments,
//! built once): each patch is a 3-byte little-endian offset (modulo the file's length), a
//! length byte, and that many bytes written there. Checked: the file check in this
//! process answers without panicking; the child (this binary again, told by an
//! environment variable to open the directory) ends with a clean open (exit 0), a
//! refusal (exit 3), a signal, which the node reports as corruption (LMDB itself may
//! fault on a garbled page: that is why the walk runs in a child), or a memory error the
//! sanitizer caught in the child (exit 86); a Rust panic (exit 101) or any other exit is
//! a failure, as is an open that succeeds in the child after
//! the file check refused the file.

#![no_main]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use node_chain::ChainSpec;
use node_chain_state::testing::SpendingChain;
use node_chain_state::{integrity, ChainOptions, ChainState};

/// Set in the child: the chain state directory to open.
const CHILD_DIR: &str = "NODE_FUZZ_DATADIR_CHILD";
/// The child's exit code when the open or the walk refused the directory.
const REFUSED: i32 = 3;
/// The child's exit code when the address sanitizer caught a memory error in it: in a
/// release build, a fault (reported as corruption) or a garbage read (then refused), in
/// the child either way.
const ASAN_EXIT: i32 = 86;
/// A child still running after this is killed, as the node's walk is past its deadline.
const CHILD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(4);

/// A sound chain state's `data.mdb`, and a scratch directory for the corrupted copies.
struct Template {
    bytes: Vec<u8>,
    scratch: PathBuf,
    _dir: tempfile::TempDir,
}

fn spec() -> std::sync::Arc<ChainSpec> {
    ChainSpec::by_name("regtest").expect("regtest")
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let state_dir = dir.path().join("template");
        {
            let state = ChainState::open(&state_dir, spec(), ChainOptions::default(), |_| {})
                .expect("template state");
            let mut chain = SpendingChain::new(&state, 1);
            // Past coinbase maturity, so the last blocks carry payments.
            for _ in 0..110 {
                let block = chain.next_block(4);
                state.accept_block(&block).expect("template block");
            }
        }
        let bytes = std::fs::read(state_dir.join(integrity::DATA_FILE)).expect("data.mdb");
        Template {
            bytes,
            scratch: dir.path().join("case"),
            _dir: dir,
        }
    })
}

/// The child's side: walk every record, then open the state as the node does.
fn child(dir: &Path) -> ! {
    let outcome = integrity::walk(dir)
        .and_then(|_| ChainState::open(dir, spec(), ChainOptions::default(), |_| {}).map(drop));
    std::process::exit(if outcome.is_ok() { 0 } else { REFUSED })
}

fuzz_target!(
    init: {
        if let Some(dir) = std::env::var_os(CHILD_DIR) {
            child(Path::new(&dir));
        }
        template();
    },
    |data: &[u8]| {
        let template = template();
        let mut bytes = template.bytes.clone();
        let mut rest = data;
        while let [a, b, c, len, tail @ ..] = rest {
            let at = u32::from_le_bytes([*a, *b, *c, 0]) as usize % bytes.len();
            let n = (*len as usize).min(tail.len()).min(bytes.len() - at);
            bytes[at..at + n].copy_from_slice(&tail[..n]);
            rest = &tail[n..];
        }
        let _ = std::fs::remove_dir_all(&template.scratch);
        std::fs::create_dir_all(&template.scratch).expect("scratch");
        std::fs::write(template.scratch.join(integrity::DATA_FILE), &bytes).expect("write");
        let checked = integrity::check_files(&template.scratch);
        let mut child = std::process::Command::new(std::env::current_exe().expect("this binary"))
            .env(CHILD_DIR, &template.scratch)
            // Faults reach the child as the signals they are in a release build, not as
            // sanitizer reports; a memory error the sanitizer catches (LMDB reading a
            // garbled page through an intercepted call) exits ASAN_EXIT. The child exits
            // without unwinding: what it still holds is not a leak.
            .env(
                "ASAN_OPTIONS",
                format!(
                    "detect_leaks=0:handle_segv=0:handle_sigbus=0:handle_abort=0:exitcode={ASAN_EXIT}"
                ),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run the child");
        // A garbled page can send LMDB round a cycle for ever: the node kills a walk that
        // does not finish in time and reports the state as corrupt; so does this target.
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > CHILD_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        if status.signal().is_some() {
            // Reported as corruption by the node: a clean error.
            return;
        }
        match status.code() {
            Some(0) => assert!(checked.is_ok(), "opened what the file check refused: {checked:?}"),
            Some(REFUSED | ASAN_EXIT) => {}
            other => panic!("the child ended with {other:?} (101 is a panic) on this input"),
        }
    }
);
