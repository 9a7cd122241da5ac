import Foundation
import HTTPTypes
import HummingbirdWebSocket
import Logging
import Prometheus
import ServiceKit
import ServiceLifecycle
import Synchronization

/// An event of the outbox, as `/ws/orders` sends it: `{"id", "type", "time", "data"}`.
public struct OrderEvent: Sendable, Equatable {
    /// Increasing, stable across re-publication: clients de-duplicate and resume by it.
    public var id: Int
    public var type: String
    public var time: String
    /// The order, as JSON text.
    public var data: String

    /// The message text.
    var message: String {
        var writer = JSONWriter(capacity: data.utf8.count + 96)
        writer.beginObject()
        writer.field("id", id)
        writer.field("type", type)
        writer.field("time", time)
        writer.key("data")
        writer.value((try? JSONDecoder().decode(JSONValue.self, from: Data(data.utf8))) ?? .null)
        writer.endObject()
        return String(buffer: writer.buffer)
    }
}

/// Every connected `/ws/orders` client, each with a bounded buffer: a client that falls
/// `bufferSize` events behind is cut off (close code 1008) instead of holding up the others or
/// growing the process.
public final class EventHub: Sendable {
    let bufferSize: Int
    private let clients = Mutex<[UUID: AsyncStream<OrderEvent>.Continuation]>([:])
    private let overflowed = Mutex<Set<UUID>>([])
    private let connections: Gauge

    public init(bufferSize: Int = 256, registry: PrometheusCollectorRegistry) {
        self.bufferSize = bufferSize
        connections = registry.makeGauge(descriptor: .named("websocket_connections", "Open WebSocket connections on /ws/orders."))
    }

    /// A new client's stream of live events.
    func subscribe() -> (UUID, AsyncStream<OrderEvent>) {
        let (stream, continuation) = AsyncStream.makeStream(of: OrderEvent.self, bufferingPolicy: .bufferingOldest(bufferSize))
        let id = UUID()
        clients.withLock { $0[id] = continuation }
        connections.increment()
        return (id, stream)
    }

    func unsubscribe(_ id: UUID) {
        if let continuation = clients.withLock({ $0.removeValue(forKey: id) }) {
            continuation.finish()
            connections.decrement()
        }
    }

    /// Whether `id` was cut off for falling behind.
    func didOverflow(_ id: UUID) -> Bool { overflowed.withLock { $0.contains(id) } }

    /// Sends `event` to every client.
    func broadcast(_ event: OrderEvent) {
        let all = clients.withLock { $0 }
        for (id, continuation) in all {
            if case .dropped = continuation.yield(event) {
                overflowed.withLock { _ = $0.insert(id) }
                continuation.finish()
            }
        }
    }

    /// `GET /ws/orders[?since=<id>]`: the events after `since` from the outbox first, then live
    /// ones, each once.
    func route(store: OrderStore) -> WebSocketRoute {
        WebSocketRoute("/ws/orders") { request, inbound, outbound, logger in
            var since: Int?
            if let query = request.path?.split(separator: "?", maxSplits: 1).dropFirst().first {
                for pair in query.split(separator: "&") where pair.hasPrefix("since=") {
                    guard let value = Int(pair.dropFirst(6)), value >= 0 else {
                        try await outbound.close(.policyViolation, reason: "since must be a whole number")
                        return
                    }
                    since = value
                }
            }
            // Subscribed before the replay is read, so nothing falls between the two.
            let (id, live) = self.subscribe()
            defer { self.unsubscribe(id) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The client's side: when it closes (or the connection drops), the live stream ends.
                group.addTask {
                    for try await _ in inbound {}
                    self.unsubscribe(id)
                }
                var last = since ?? Int.max
                if let since {
                    for event in try await store.events(after: since) {
                        try await outbound.writeTextMessage(event.message)
                        last = event.id
                    }
                }
                for await event in live {
                    if since != nil, event.id <= last { continue }
                    try await outbound.writeTextMessage(event.message)
                    last = event.id
                }
                if self.didOverflow(id) {
                    logger.warning("a slow WebSocket client was cut off", metadata: ["buffer": .stringConvertible(self.bufferSize)])
                    try await outbound.close(.policyViolation, reason: "slow consumer: more than \(self.bufferSize) events behind")
                }
                group.cancelAll()
            }
        }
    }
}

/// Publishes the outbox to this process's clients: every event after its cursor is sent to the
/// hub, then marked published. A process starts at the oldest event never published, so a crash
/// between a commit and its publication sends it after the restart (at least once; ids are
/// stable, and clients skip what they saw). Replicas on one PostgreSQL each follow the shared
/// outbox, so a client of any replica receives the events of orders placed on every one. Woken by
/// each commit here, and every `interval` for those of other replicas.
public struct OutboxPublisher: Service {
    let store: OrderStore
    let hub: EventHub
    let logger: Logger
    let interval: Duration
    let nudges: AsyncStream<Void>
    let nudge: AsyncStream<Void>.Continuation

    public init(store: OrderStore, hub: EventHub, logger: Logger, interval: Duration = .milliseconds(500)) {
        self.store = store
        self.hub = hub
        self.logger = logger
        self.interval = interval
        (nudges, nudge) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a publication pass now (after a commit).
    public func wake() { nudge.yield() }

    /// Sends every event after `cursor`, moving it on.
    func publish(after cursor: inout Int?) async {
        do {
            if cursor == nil { cursor = try await store.publicationStart() }
            while let current = cursor {
                let events = try await store.events(after: current, limit: 100)
                guard let lastID = events.last?.id else { return }
                for event in events { hub.broadcast(event) }
                try await store.markPublished(upTo: lastID)
                cursor = lastID
            }
        } catch {
            logger.warning("could not publish the outbox; retrying", metadata: ["error": .string("\(error)")])
        }
    }

    public func run() async throws {
        let nudge = self.nudge
        let interval = self.interval
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    nudge.yield()
                }
            }
            await cancelWhenGracefulShutdown {
                var cursor: Int?
                await publish(after: &cursor)
                for await _ in nudges {
                    await publish(after: &cursor)
                }
            }
            group.cancelAll()
        }
    }
}
