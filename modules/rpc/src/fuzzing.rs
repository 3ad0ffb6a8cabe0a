//! The request parser as the fuzz targets in `fuzz/` drive it: compiled only with the
//! `fuzzing` feature, which no build of the node enables. Not an API.

use node_api::RpcRegistry;

use crate::jsonrpc::{self, Answer};

/// Answers a request body with the methods of `registry`, as the server does once it has
/// read the body: the HTTP status, and the body unless it is 204.
pub async fn answer(body: &[u8], registry: &RpcRegistry) -> (u16, Option<Vec<u8>>) {
    match jsonrpc::answer(
        body,
        registry,
        &Default::default(),
        &Default::default(),
        &crate::server::Limits::default(),
    )
    .await
    {
        Answer::NoContent => (204, None),
        Answer::Json { status, body } => (status, Some(body)),
    }
}
