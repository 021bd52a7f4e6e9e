//! Zone files a test writes and rewrites (a reload, a primary's change).

/// A small zone in presentation form: `$ORIGIN origin.`, `$TTL ttl`, the SOA
/// (`ns.origin.`, `hostmaster.origin.`, `serial`, then `timers`: refresh,
/// retry, expire, minimum), `@ NS ns`, `ns A 192.0.2.53`, then `records`
/// (one per line, owners relative to the origin).
pub fn test_zone(origin: &str, ttl: u32, serial: u32, timers: [u32; 4], records: &str) -> String {
    let [refresh, retry, expire, minimum] = timers;
    format!(
        "$ORIGIN {origin}.\n\
         $TTL {ttl}\n\
         @    IN SOA ns.{origin}. hostmaster.{origin}. {serial} {refresh} {retry} {expire} {minimum}\n\
         @    IN NS  ns\n\
         ns   IN A   192.0.2.53\n\
         {records}"
    )
}
