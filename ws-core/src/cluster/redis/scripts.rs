//! The Lua scripts of the Redis backplane, and the names of its keys and channels. Each script
//! is one atomic step on the broker, so nodes racing for ids or leases never interleave.

use crate::NodeId;

/// Claims the first free id from a random start. One script, so the scan costs one round trip
/// and `SET NX` keeps it atomic per id: two nodes starting together never share an id.
pub(super) const CLAIM: &str = r"
local prefix, token, lease, start = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local max = tonumber(ARGV[5])
for i = 0, max - 1 do
  local id = (start - 1 + i) % max + 1
  if redis.call('SET', prefix .. ':node:' .. id, token, 'NX', 'PX', lease) then
    return id
  end
end
return 0
";

/// Renews this node's lease if it still holds it (or re-takes it if it expired, e.g. after a
/// broker restart), and keeps the live-node index. Returns 0 when another process holds the id.
pub(super) const LEASE: &str = r"
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
local lease = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', lease)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + lease, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('PTTL', KEYS[2]) < lease then redis.call('PEXPIRE', KEYS[2], lease) end
if held then return 1 end
return 2
";

/// Live node ids by the index, using the broker's clock so nodes' clocks need not agree.
pub(super) const LIVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
";

/// Publishes a request only to a node whose lease is alive: -1 = dead, else the subscriber count.
pub(super) const SEND: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('PUBLISH', ARGV[1], ARGV[2])
";

/// Gives the id back on a clean shutdown, so other nodes see the node gone at once.
pub(super) const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
end
return 1
";

/// Names of this cluster's keys and channels.
#[derive(Debug)]
pub(super) struct Names {
    pub(super) prefix: String,
}

impl Names {
    /// The key of `node`'s lease; its value is the holder's token.
    pub(super) fn lease(&self, node: NodeId) -> String {
        format!("{}:node:{}", self.prefix, node.0)
    }
    /// The sorted set of live node ids, scored by lease expiry.
    pub(super) fn index(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
    /// Requests to `node`, and replies to its requests.
    pub(super) fn node_channel(&self, node: NodeId) -> String {
        format!("{}.node.{}", self.prefix, node.0)
    }
    /// Casts to every node.
    pub(super) fn all_channel(&self) -> String {
        format!("{}.all", self.prefix)
    }
}
