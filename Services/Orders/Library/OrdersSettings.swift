import ServiceKit

/// The orders service's own settings, read and validated at start-up (a bad value exits 2).
struct OrdersSettings: Sendable {
    /// `OUTBOX_POLL_INTERVAL`, default 1s: how often the outbox is read without being woken. A
    /// commit here wakes the publisher at once and, on PostgreSQL, one on another replica
    /// notifies it; the poll only bounds the delay of a notification lost while reconnecting.
    var outboxPollInterval: Duration = .seconds(1)

    /// `EVENTS_CLIENT_BUFFER`, default 256: how many events a `/ws/orders` client may fall
    /// behind before it is closed with 1008.
    var eventsClientBuffer = 256

    /// `EVENTS_CLOSE_GRACE`, default 5s: how long a cut-off client's close frame waits for it
    /// to read again before the connection is dropped without one.
    var eventsCloseGrace: Duration = .seconds(5)

    static func load(_ configuration: ServiceConfiguration) throws -> OrdersSettings {
        let env = EnvironmentReader(configuration.environment)
        var settings = OrdersSettings()
        settings.outboxPollInterval = try env.duration("OUTBOX_POLL_INTERVAL", default: settings.outboxPollInterval)
        guard settings.outboxPollInterval >= .milliseconds(10) else {
            throw ConfigurationError(variable: "OUTBOX_POLL_INTERVAL", value: env.string("OUTBOX_POLL_INTERVAL") ?? "", reason: "expected at least 10ms")
        }
        settings.eventsClientBuffer = try env.positiveInt("EVENTS_CLIENT_BUFFER") ?? settings.eventsClientBuffer
        settings.eventsCloseGrace = try env.duration("EVENTS_CLOSE_GRACE", default: settings.eventsCloseGrace)
        return settings
    }
}
