import Foundation
import Logging
import Prometheus
import ServiceKit
import ServiceKitTesting
import ServiceLifecycle
import Synchronization
import Testing
@testable import Orders

/// Event ids a reader has seen.
final class Seen: Sendable {
    private let state = Mutex<[Int]>([])
    func add(_ id: Int) { state.withLock { $0.append(id) } }
    var count: Int { state.withLock { $0.count } }
    var ids: [Int] { state.withLock { $0 } }
}

/// The outbox and the hub, in-process on a real SQLite file.
@Suite struct OutboxTests {
    @Test func anEventCommittedButNeverPublishedIsPublishedWhenAPublisherStarts() async throws {
        try await InProcessService.with(OrdersService.definition, configure: { $0.peers = ["users": URL(string: "http://127.0.0.1:9")!, "catalog": URL(string: "http://127.0.0.1:9")!] }) { service in
            let store = OrderStore(database: service.runtime.database)
            // A commit whose process died before publishing: nothing runs the publisher here.
            let order = try await store.commit(user: "1", lines: [OrderLine(itemId: 1, name: "Lamp", quantity: 1, unitPrice: 2)], attempt: "a", key: nil)
            #expect(try await store.publicationStart() == 0, "the event waits, unpublished")

            let hub = EventHub(registry: PrometheusCollectorRegistry())
            let (id, stream, _) = hub.subscribe()
            defer { hub.unsubscribe(id) }
            let publisher = OutboxPublisher(store: store, hub: hub, logger: Logger(label: "test"))
            let group = ServiceGroup(services: [publisher], logger: Logger(label: "test"))
            let received = try await withThrowingTaskGroup(of: OrderEvent?.self) { tasks in
                tasks.addTask { try await group.run(); return nil }
                var iterator = stream.makeAsyncIterator()
                let first = await iterator.next()
                // Published, then marked: wait for the mark before stopping.
                let deadline = ContinuousClock.now + .seconds(30)
                while try await store.publicationStart() != first?.id, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                await group.triggerGracefulShutdown()
                for try await _ in tasks {}
                return first
            }
            let event = try #require(received)
            #expect(event.type == "order.created")
            #expect(event.message.contains(#""id":\#(order.id)"#))
            #expect(try await store.publicationStart() == event.id, "marked published: a later start resumes after it")
        }
    }

    @Test func aClientThatFallsTooFarBehindIsCutOffAndTheOthersKeepEveryEvent() async throws {
        let hub = EventHub(bufferSize: 8, registry: PrometheusCollectorRegistry())
        let (slow, slowStream, slowOverflow) = hub.subscribe()
        let (fast, fastStream, _) = hub.subscribe()
        defer { hub.unsubscribe(slow); hub.unsubscribe(fast) }
        let seen = Seen()
        let reader = Task {
            for await event in fastStream {
                seen.add(event.id)
                if event.id == 20 { break }
            }
        }
        for id in 1...20 {
            hub.broadcast(OrderEvent(id: id, type: "order.created", time: "2026-12-01T00:00:00Z", data: "{}"))
            // The fast client has read each event before the next comes; the slow one never reads.
            let deadline = ContinuousClock.now + .seconds(30)
            while seen.count < id, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        }
        await reader.value
        #expect(seen.ids == Array(1...20), "the reading client got every event")
        #expect(hub.didOverflow(slow), "the slow one overflowed its 8 events")
        var kept = 0
        for await _ in slowStream { kept += 1 }
        #expect(kept == 8, "its stream ended after what it had buffered")
        var signals = 0
        for await _ in slowOverflow { signals += 1 }
        #expect(signals == 1, "the overflow was signalled once, which cancels a write the client does not read")
    }
}
