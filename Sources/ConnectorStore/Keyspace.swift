/// Every key the connector writes, in one place, so what lives in the store (SPEC §5) can be
/// read off this file. Segments from outside (connection ids, topics) are escaped by
/// `StoreKey.segment`, so no input can reach into another connection's keys.
public enum Keyspace {
    /// Connection records (secrets sealed). Kept until `connection remove`.
    public static func connection(_ id: String) -> String { "connection/\(StoreKey.segment(id))" }
    public static let connections = "connection/"

    /// Operational state of a connection (paused, last good delivery). Kept with the connection.
    public static func connectionState(_ id: String) -> String { "state/\(StoreKey.segment(id))" }

    /// One record per distinct delivery: (connection, topic, resource id, SHA-256 of the raw
    /// body). Expires after the retention (it holds personal data).
    public static func delivery(_ connection: String, topic: String, resourceID: String, bodySHA256: String) -> String {
        "delivery/\(StoreKey.segment(connection))/\(StoreKey.segment(topic))/\(StoreKey.segment(resourceID))/\(bodySHA256)"
    }
    public static func deliveries(_ connection: String) -> String { "delivery/\(StoreKey.segment(connection))/" }

    /// Work handed to another function, one per (connection, kind, resource). Expires after the retention.
    public static func pending(_ connection: String, kind: String, resourceID: String) -> String {
        "pending/\(StoreKey.segment(connection))/\(StoreKey.segment(kind))/\(StoreKey.segment(resourceID))"
    }
    public static func pending(_ connection: String) -> String { "pending/\(StoreKey.segment(connection))/" }
    /// All pending work of one kind (e.g. every pending order) of a connection.
    public static func pending(_ connection: String, kind: String) -> String { "pending/\(StoreKey.segment(connection))/\(StoreKey.segment(kind))/" }

    /// The audit trail, time-ordered per connection. Expires after the retention.
    public static func audit(_ connection: String, sortableTime: String, id: String) -> String {
        "audit/\(StoreKey.segment(connection))/\(sortableTime)-\(StoreKey.segment(id))"
    }
    public static func audits(_ connection: String) -> String { "audit/\(StoreKey.segment(connection))/" }

    /// One alert record per (connection, reason), deduplicating within its window.
    public static func alert(_ connection: String, reason: String) -> String {
        "alert/\(StoreKey.segment(connection))/\(StoreKey.segment(reason))"
    }
    public static func alerts(_ connection: String) -> String { "alert/\(StoreKey.segment(connection))/" }

    /// Order links (Woo id → F&O keys). Never expire; kept by `connection remove` unless `--purge`.
    public static func orderLinks(_ connection: String) -> String { "link/\(StoreKey.segment(connection))/" }
    /// The link of one WooCommerce order to what it became in F&O. Never expires.
    public static func orderLink(_ connection: String, orderID: Int) -> String { "link/\(StoreKey.segment(connection))/order/\(orderID)" }

    /// The audit record (state and timeline) of one order, customer or refund. Expires after
    /// the retention (it holds personal data).
    public static func record(_ connection: String, kind: String, id: String) -> String {
        "record/\(StoreKey.segment(connection))/\(StoreKey.segment(kind))/\(StoreKey.segment(id))"
    }
    public static func records(_ connection: String) -> String { "record/\(StoreKey.segment(connection))/" }

    /// Leases: one order at a time (per connection), and F&O's single-writer entities per
    /// environment and legal entity (`customers`, `journal`).
    public static func orderLease(_ connection: String, orderID: Int) -> String { "lease/order/\(StoreKey.segment(connection))/\(orderID)" }
    public static func entityLease(environment: String, legalEntity: String, entity: String) -> String {
        "lease/fo/\(StoreKey.segment(environment))/\(StoreKey.segment(legalEntity))/\(StoreKey.segment(entity))"
    }

    /// The open payment journal per (environment, legal entity, journal name), with its
    /// compare-and-swap line counter.
    public static func paymentJournal(environment: String, legalEntity: String, journalName: String) -> String {
        "journal/\(StoreKey.segment(environment))/\(StoreKey.segment(legalEntity))/\(StoreKey.segment(journalName))"
    }

    /// A customer account known to exist in F&O (saves a round trip per order). Expires after a week.
    public static func knownCustomer(environment: String, legalEntity: String, account: String) -> String {
        "known/\(StoreKey.segment(environment))/\(StoreKey.segment(legalEntity))/customer/\(StoreKey.segment(account))"
    }

    /// `throttledUntil` of one F&O environment (written on a 429 only).
    public static func throttle(environment: String) -> String { "throttle/\(StoreKey.segment(environment))" }

    /// A sealed F&O bearer token per (authority, tenant, app, environment); expires with it.
    public static func token(identityDigest: String) -> String { "token/\(StoreKey.segment(identityDigest))" }

    /// Poll cursors. Never expire; kept by `connection remove` unless `--purge`.
    public static func cursors(_ connection: String) -> String { "cursor/\(StoreKey.segment(connection))/" }

    /// Prefixes `connection remove` clears: everything of the connection's but links and cursors.
    public static func removablePrefixes(_ connection: String) -> [String] {
        [deliveries(connection), pending(connection), audits(connection), records(connection), alerts(connection),
         "seen/\(StoreKey.segment(connection))/", "catalog/\(StoreKey.segment(connection))/",
         // F&O business events, signature-failure counters, alerts waiting for the alert webhook.
         "bevent/\(StoreKey.segment(connection))/", "sigfail/\(StoreKey.segment(connection))/", "outbox/\(StoreKey.segment(connection))/"]
    }
    /// Prefixes only `--purge` clears.
    public static func durablePrefixes(_ connection: String) -> [String] { [orderLinks(connection), cursors(connection), openOrders(connection)] }
    /// Posted orders whose completion is still open (F&O has not invoiced all of them).
    public static func openOrders(_ connection: String) -> String { "open/\(StoreKey.segment(connection))/order/" }
    public static func openOrder(_ connection: String, orderID: Int) -> String { openOrders(connection) + String(orderID) }
}
