//! A presence listing across the cluster: one [`Command::Describe`] per live node, asked
//! concurrently, where a node that does not answer is left out instead of failing the listing.

use super::backplane::Backplane;
use super::command::{Command, MemberInfo, Reply};
use crate::SendError;

/// What every other live node answers to `command` (a [`Command::Describe`]).
///
/// Rooms live where their connections live, so each node selects its own members and the
/// listing costs one request per node, not one per member. A node that fails to answer in
/// `request_timeout_ms` (it crashed and its lease has not run out yet, or it is cut off from the
/// broker) is left out and logged: a presence list must stay available while one node is gone,
/// and a crashed node's members are gone too. Once its lease runs out it is no longer asked.
/// Fails only when the live nodes cannot be listed (the broker is down).
pub(crate) async fn remote_members(
    backplane: &dyn Backplane,
    command: Command,
) -> Result<Vec<MemberInfo>, SendError> {
    let me = backplane.node();
    let nodes = backplane.live_nodes().await?;
    let asks = nodes.into_iter().filter(|node| *node != me).map(|node| {
        let request = backplane.request(node, command.clone());
        async move { (node, request.await) }
    });
    let mut members = Vec::new();
    for (node, reply) in futures_util::future::join_all(asks).await {
        match reply {
            Ok(Reply::Described(found)) => members.extend(found),
            Ok(other) => {
                tracing::debug!(%node, reply = ?other, "a node answered a presence listing with something else; left out");
            }
            Err(error) => {
                tracing::debug!(%node, %error, "a node did not answer a presence listing; its members are left out");
            }
        }
    }
    Ok(members)
}
