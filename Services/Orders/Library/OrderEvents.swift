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
/// growing the process. A client that stops reading altogether blocks only its own writer: the
/// overflow cancels that write, and the close frame gets `closeGrace` before the connection is
/// dropped without it.
public final class EventHub: Sendable {
    let bufferSize: Int
    let closeGrace: Duration
    private let clients = Mutex<[UUID: Client]>([:])
    private let overflowed = Mutex<Set<UUID>>([])
    private let connections: Gauge
    private let cutOff: Counter

    struct Client: Sendable {
        let events: AsyncStream<OrderEvent>.Continuation
        let overflow: AsyncStream<Void>.Continuation
    }

    public init(bufferSize: Int = 256, closeGrace: Duration = .seconds(5), registry: PrometheusCollectorRegistry) {
        self.bufferSize = bufferSize
        self.closeGrace = closeGrace
        connections = registry.makeGauge(descriptor: .named("websocket_connections", "Open WebSocket connections on /ws/orders."))
        cutOff = registry.makeCounter(descriptor: .named("websocket_slow_clients_closed_total", "WebSocket clients closed for falling too far behind."))
    }

    /// A new client's stream of live events, and a stream that yields once if it overflows.
    func subscribe() -> (UUID, AsyncStream<OrderEvent>, AsyncStream<Void>) {
        let (events, eventsContinuation) = AsyncStream.makeStream(of: OrderEvent.self, bufferingPolicy: .bufferingOldest(bufferSize))
        let (overflow, overflowContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        clients.withLock { $0[id] = Client(events: eventsContinuation, overflow: overflowContinuation) }
        connections.increment()
        return (id, events, overflow)
    }

    func unsubscribe(_ id: UUID) {
        if let client = clients.withLock({ $0.removeValue(forKey: id) }) {
            client.events.finish()
            client.overflow.finish()
            connections.decrement()
        }
    }

    /// Whether `id` was cut off for falling behind.
    func didOverflow(_ id: UUID) -> Bool { overflowed.withLock { $0.contains(id) } }

    /// Sends `event` to every client.
    func broadcast(_ event: OrderEvent) {
        let all = clients.withLock { $0 }
        for (id, client) in all {
            if case .dropped = client.events.yield(event) {
                let first = overflowed.withLock { $0.insert(id).inserted }
                guard first else { continue }
                cutOff.increment()
                client.events.finish()
                client.overflow.yield()
                client.overflow.finish()
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
            let resumeAfter = since
            // Subscribed before the replay is read, so nothing falls between the two.
            let (id, live, overflow) = self.subscribe()
            defer { self.unsubscribe(id) }
            // Whichever ends first ends the others: the client leaving, the stream ending, or an
            // overflow. After an overflow the writer gets `closeGrace` to hand over what it holds
            // (the client reads again) and the close frame, and the client that long to answer it;
            // a client that never reads again has its write cancelled and the connection dropped
            // without a close frame.
            let grace = self.closeGrace
            let bufferSize = self.bufferSize
            try await withThrowingTaskGroup(of: StreamEnd.self) { group in
                group.addTask {
                    for try await _ in inbound {}
                    return .clientLeft
                }
                group.addTask {
                    var last = resumeAfter ?? Int.max
                    if let resumeAfter {
                        for event in try await store.events(after: resumeAfter) {
                            try await outbound.writeTextMessage(event.message)
                            last = event.id
                        }
                    }
                    for await event in live {
                        if resumeAfter != nil, event.id <= last { continue }
                        try await outbound.writeTextMessage(event.message)
                        last = event.id
                    }
                    return .streamEnded
                }
                group.addTask {
                    for await _ in overflow { return .overflowed }
                    // Finished without overflowing: the client left; wait to be cancelled.
                    try await Task.sleep(for: .seconds(86_400 * 365))
                    return .clientLeft
                }
                var end = try await group.next()
                var graceStarted = false
                while end == .overflowed || (end == .streamEnded && self.didOverflow(id)) {
                    if !graceStarted {
                        graceStarted = true
                        group.addTask {
                            try await Task.sleep(for: grace)
                            return .graceOver
                        }
                    }
                    if end == .streamEnded {
                        // Everything queued is written: the close goes after it. The reader keeps
                        // reading until the client answers the close: cancelling it would end the
                        // inbound stream, and the close handshake would then drop the connection
                        // with the close frame still queued behind the events.
                        logger.warning("a slow WebSocket client was cut off", metadata: ["buffer": .stringConvertible(bufferSize)])
                        try await outbound.close(.policyViolation, reason: "slow consumer: more than \(bufferSize) events behind")
                    }
                    end = try await group.next()
                }
                group.cancelAll()
                if end == .graceOver { throw SlowConsumerUnreachable() }
            }
        }
    }

    /// How a client's stream ended.
    enum StreamEnd: Sendable {
        case clientLeft, streamEnded, overflowed, graceOver
    }

    /// A cut-off client did not take its close frame in time; the connection is dropped.
    struct SlowConsumerUnreachable: Error {}
}

/// Publishes the outbox to this process's clients: every event after its cursor is sent to the
/// hub, then marked published. A process starts at the oldest event never published, so a crash
/// between a commit and its publication sends it after the restart (at least once; ids are
/// stable, and clients skip what they saw). Replicas on one PostgreSQL each follow the shared
/// outbox, so a client of any replica receives the events of orders placed on every one.
///
/// A pass runs after each commit in this process, at each `NOTIFY` of another replica's commit
/// (PostgreSQL's LISTEN on `OrderStore.outboxChannel`, listened to again after a dropped
/// connection), and every `interval` as a fallback for a notification lost while reconnecting.
public struct OutboxPublisher: Service {
    let store: OrderStore
    let hub: EventHub
    let logger: Logger
    let interval: Duration
    let nudges: AsyncStream<Void>
    let nudge: AsyncStream<Void>.Continuation
    private let following = Following()

    /// Set once the publisher has read where to start: from then on no event committed anywhere
    /// escapes this process's clients.
    final class Following: Sendable {
        let value = Atomic<Bool>(false)
    }

    public init(store: OrderStore, hub: EventHub, logger: Logger, interval: Duration = .seconds(1)) {
        self.store = store
        self.hub = hub
        self.logger = logger
        self.interval = interval
        (nudges, nudge) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a publication pass now (after a commit).
    public func wake() { nudge.yield() }

    /// The readiness check "outbox": it passes once the publisher follows the outbox. Before
    /// that, another replica may publish and mark events this one would start after, so a client
    /// routed here would miss them.
    public var readinessCheck: HealthCheck {
        HealthCheck("outbox") { [following] in
            guard following.value.load(ordering: .acquiring) else { throw OutboxNotFollowed() }
        }
    }

    struct OutboxNotFollowed: Error, CustomStringConvertible {
        var description: String { "the outbox is not read yet (migrations pending?)" }
    }

    /// Sends every event after `cursor`, moving it on.
    func publish(after cursor: inout Int?, quietly: Bool = false) async {
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
            if quietly { return }
            logger.warning("could not publish the outbox; retrying", metadata: ["error": .string(Database.describe(error))])
        }
    }

    /// Listens for other replicas' commits until cancelled, listening again a second after the
    /// connection drops.
    func listen() async {
        let database = store.database
        guard database.deliversNotifications else { return }
        let nudge = self.nudge
        while !Task.isCancelled {
            do {
                try await database.listen(on: OrderStore.outboxChannel) { nudge.yield() }
            } catch {
                if Task.isCancelled { return }
                logger.warning("lost the outbox notifications; listening again", metadata: ["error": .string(Database.describe(error))])
            }
            try? await Task.sleep(for: .seconds(1))
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
            group.addTask { await listen() }
            await cancelWhenGracefulShutdown {
                // Until the migrations have made the outbox, quietly, then it is followed.
                var cursor: Int?
                let patience = ContinuousClock.now + .seconds(10)
                while cursor == nil, !Task.isCancelled {
                    await publish(after: &cursor, quietly: ContinuousClock.now < patience)
                    if cursor == nil { try? await Task.sleep(for: .milliseconds(100)) }
                }
                following.value.store(true, ordering: .releasing)
                for await _ in nudges {
                    await publish(after: &cursor)
                }
            }
            group.cancelAll()
        }
    }
}
