//! The `getmemoryinfo` method (Bitcoin Core's). Core reports its locked-memory pool, the
//! arena that holds wallet keys in pages locked against swapping; this node keeps no such
//! pool, so `used`, `free`, `total` and the chunk counts are 0, and `locked` is what the
//! kernel says the process has locked (`VmLck`, normally 0). What this node can tell
//! truthfully about its memory is added under `process`, from `/proc/self/status`: the
//! resident set now and at its peak, and the virtual size.

use serde_json::{json, Value};

use crate::rpc::{Param, RpcError, RpcParams};

pub(crate) const PARAMS: &[Param] = &[Param::optional("mode").string(
    "default=\"stats\": \"stats\" returns general statistics about memory usage in the node; \
     \"mallocinfo\" (the allocator's XML report in Core) is not available here",
)];

pub(crate) const HELP: &str = "Returns an object containing information about memory usage.\n\
\n\
Result (mode \"stats\"):\n\
{                         (json object)\n\
  \"locked\" : {            (json object) Information about locked memory manager\n\
    \"used\" : n,           (numeric) Number of bytes used (0: no locked pool here)\n\
    \"free\" : n,           (numeric) Number of bytes available in current arenas (0)\n\
    \"total\" : n,          (numeric) Total number of bytes managed (0)\n\
    \"locked\" : n,         (numeric) Bytes of the process locked in memory (VmLck)\n\
    \"chunks_used\" : n,    (numeric) Number allocated chunks (0)\n\
    \"chunks_free\" : n     (numeric) Number unused chunks (0)\n\
  },\n\
  \"process\" : {           (json object) This node's addition: the process's memory\n\
    \"rss\" : n,            (numeric) Resident bytes now (VmRSS)\n\
    \"peak_rss\" : n,       (numeric) Most resident bytes so far (VmHWM)\n\
    \"virtual\" : n         (numeric) Virtual size in bytes (VmSize)\n\
  }\n\
}";

/// A `/proc/self/status` field in bytes (the file gives kB); 0 when it is missing, as on
/// a system without procfs.
fn status_bytes(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The method.
pub(crate) fn getmemoryinfo(params: RpcParams) -> Result<Value, RpcError> {
    let mode: String = params.optional(0)?.unwrap_or_else(|| "stats".to_string());
    match mode.as_str() {
        "stats" => {}
        // Core's answer when it is built without glibc's malloc_info.
        "mallocinfo" => return Err(RpcError::invalid_parameter("mallocinfo mode not available")),
        other => return Err(RpcError::invalid_parameter(format!("unknown mode {other}"))),
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    Ok(json!({
        "locked": {
            "used": 0,
            "free": 0,
            "total": 0,
            "locked": status_bytes(&status, "VmLck"),
            "chunks_used": 0,
            "chunks_free": 0,
        },
        "process": {
            "rss": status_bytes(&status, "VmRSS"),
            "peak_rss": status_bytes(&status, "VmHWM"),
            "virtual": status_bytes(&status, "VmSize"),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_bytes() {
        let status = "Name:\tnode\nVmLck:\t       0 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_bytes(status, "VmRSS"), 10 << 20);
        assert_eq!(status_bytes(status, "VmHWM"), 20 << 20);
        assert_eq!(status_bytes(status, "VmLck"), 0);
        assert_eq!(status_bytes(status, "VmSize"), 0);
    }

    #[test]
    fn stats_come_from_the_process_and_other_modes_are_refused() {
        let info = getmemoryinfo(RpcParams::positional(vec![])).unwrap();
        assert_eq!(info["locked"]["total"], 0);
        assert!(info["process"]["rss"].as_u64().is_some_and(|rss| rss > 0));
        let err = getmemoryinfo(RpcParams::positional(vec![json!("mallocinfo")])).unwrap_err();
        assert_eq!(err.code, crate::rpc::codes::INVALID_PARAMETER);
        let err = getmemoryinfo(RpcParams::positional(vec![json!("other")])).unwrap_err();
        assert!(
            err.message.contains("unknown mode other"),
            "{}",
            err.message
        );
    }
}
