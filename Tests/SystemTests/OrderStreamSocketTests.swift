import FleetTestSupport
import Foundation
import Synchronization
import ServiceKitTesting
import Testing

/// A WebSocket client on a raw socket, its handshake and frames written by hand, so that a test
/// decides what a client library would decide for it: to stop reading, to leave pings
/// unanswered, to ping the server itself.
final class RawWebSocket: Sendable {
    let connection: RawHTTPConnection
    private let pending = Mutex<[UInt8]>([])

    /// A frame as the server sent it (servers never mask).
    struct Frame: Sendable {
        var opcode: UInt8
        var payload: [UInt8]
        var text: String { String(decoding: payload, as: UTF8.self) }
        /// The status code of a close frame.
        var closeCode: Int? { opcode == 0x8 && payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil }
    }

    struct HandshakeRefused: Error { var head: String }

    init(port: Int, path: String, receiveBuffer: Int? = nil) async throws {
        connection = try RawHTTPConnection(port: port, receiveBuffer: receiveBuffer)
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        await connection.send(
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n")
        var received: [UInt8] = []
        while true {
            let bytes = await connection.receive()
            guard !bytes.isEmpty else { throw HandshakeRefused(head: String(decoding: received, as: UTF8.self)) }
            received += bytes
            if let end = received.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: received[..<end.lowerBound], as: UTF8.self)
                guard head.hasPrefix("HTTP/1.1 101") else { throw HandshakeRefused(head: head) }
                let rest = Array(received[end.upperBound...])
                pending.withLock { $0 = rest }
                return
            }
        }
    }

    /// The next frame; nil when the server has closed the connection (or 30 s passed).
    func next() async -> Frame? {
        while true {
            if let frame = pending.withLock({ Self.take(from: &$0) }) { return frame }
            let bytes = await connection.receive()
            guard !bytes.isEmpty else { return nil }
            pending.withLock { $0 += bytes }
        }
    }

    /// The next frame other than a ping, answering pings on the way.
    func nextAnsweringPings() async -> Frame? {
        while let frame = await next() {
            guard frame.opcode == 0x9 else { return frame }
            await send(opcode: 0xA, payload: frame.payload)
        }
        return nil
    }

    /// Sends one masked frame, as a client must.
    func send(opcode: UInt8, payload: [UInt8]) async {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame.append(0x80 | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        await connection.send(frame)
    }

    /// A whole frame off the front of `buffer`, or nil while it is incomplete.
    static func take(from buffer: inout [UInt8]) -> Frame? {
        guard buffer.count >= 2 else { return nil }
        var length = Int(buffer[1] & 0x7F)
        var offset = 2
        if length == 126 {
            guard buffer.count >= 4 else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            offset = 4
        } else if length == 127 {
            guard buffer.count >= 10 else { return nil }
            length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        guard buffer.count >= offset + length else { return nil }
        let frame = Frame(opcode: buffer[0] & 0x0F, payload: Array(buffer[offset..<(offset + length)]))
        buffer.removeFirst(offset + length)
        return frame
    }
}

/// `/ws/orders` over real sockets, with clients that misbehave on purpose: the server's
/// keep-alive pings, and a client that stops reading while another keeps up.
@Suite(.serialized) struct OrderStreamSocketTests {
    static func withOrders<Value>(
        _ settings: [String: String], _ body: (ServiceProcess, ServiceProcess, TestIssuer) async throws -> Value
    ) async throws -> Value {
        let folder = try TemporaryDirectory.make(prefix: "orders-ws")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try await UsersAndCatalog.with(catalog: ["DATABASE_URL": "sqlite:///\(folder)/catalog.db", "DATA_DIR": folder]) { users, catalog, issuer in
            let environment = [
                "USERS_URL": "http://127.0.0.1:\(users.port)", "CATALOG_URL": "http://127.0.0.1:\(catalog.port)",
                "DATABASE_URL": "sqlite:///\(folder)/orders.db", "DATA_DIR": folder,
            ].merging(settings) { $1 }
            return try await ServiceProcess.with("orders", environment: environment) { orders in
                try await orders.waitUntilReady()
                return try await body(catalog, orders, issuer)
            }
        }
    }

    /// The value of an unlabelled sample on orders' `/metrics`.
    static func metric(_ name: String, of orders: ServiceProcess) async throws -> Double? {
        let text = String(buffer: try await orders.admin("/metrics").body ?? .init())
        return text.split(separator: "\n").lazy.compactMap { line in
            line.hasPrefix(name + " ") ? Double(line.dropFirst(name.count + 1)) : nil
        }.first
    }

    @Test func theServerPingsEveryClientAndClosesOneThatStopsAnsweringWith1001() async throws {
        try await Self.withOrders(["WEBSOCKET_PING_INTERVAL": "1s"]) { _, orders, _ in
            let answering = try await RawWebSocket(port: orders.port, path: "/ws/orders")
            let silent = try await RawWebSocket(port: orders.port, path: "/ws/orders")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Never answers: the first ping comes, then a close for the missing pong.
                    var pings = 0
                    var close: RawWebSocket.Frame?
                    while let frame = await silent.next() {
                        if frame.opcode == 0x9 { pings += 1 }
                        if frame.opcode == 0x8 { close = frame; break }
                    }
                    #expect(pings >= 1, "pinged before being closed")
                    #expect(close?.closeCode == 1001, "closed as gone away, for the unanswered ping")
                    #expect(await silent.next() == nil, "then the connection ends")
                }
                var pings = 0
                while pings < 4, let frame = await answering.next() {
                    #expect(frame.opcode == 0x9, "only pings on an idle stream, got \(frame.opcode)")
                    pings += 1
                    await answering.send(opcode: 0xA, payload: frame.payload)
                }
                #expect(pings == 4, "four pings answered, and still open")
                try await group.waitForAll()
                // A ping of the client's own is answered with its payload.
                await answering.send(opcode: 0x9, payload: Array("are you there".utf8))
                let pong = await answering.nextAnsweringPings()
                #expect(pong?.opcode == 0xA && pong?.text == "are you there")
                try await OrdersProcessTests.waitFor({ try await Self.metric("websocket_connections", of: orders) == 1 }, "only the answering client left")
            }
        }
    }

    @Test func aClientThatStopsReadingIsCutOffWhileAnotherGetsEveryEvent() async throws {
        try await Self.withOrders(["EVENTS_CLIENT_BUFFER": "4", "WEBSOCKET_SEND_BUFFER": "8192", "EVENTS_CLOSE_GRACE": "15s"]) { catalog, orders, issuer in
            let lamp = try await OrdersProcessTests.item(catalog, issuer, name: "Lamp", price: 2, stock: 100_000)
            // A small receive buffer: the kernel holds only a few events for the one that stops.
            let stalled = try await RawWebSocket(port: orders.port, path: "/ws/orders", receiveBuffer: 2048)
            let reader = try await RawWebSocket(port: orders.port, path: "/ws/orders")
            let seen = SeenOrders()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while let frame = await reader.nextAnsweringPings(), frame.opcode == 0x1 {
                        let event = try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any]
                        if let order = (event?["data"] as? [String: Any])?["id"] as? Int { seen.ids.withLock { _ = $0.insert(order) } }
                    }
                }
                do {
                    try await OrdersProcessTests.waitFor({ try await Self.metric("websocket_connections", of: orders) == 2 }, "both clients connected")
                    // Orders in rounds until the stalled client is cut off; bounded.
                    var placed = Set<Int>()
                    var rounds = 0
                    while try await Self.metric("websocket_slow_clients_closed_total", of: orders) ?? 0 < 1 {
                        rounds += 1
                        try #require(rounds <= 200, "the stalled client was not cut off after \(placed.count) orders")
                        placed.formUnion(try await Self.place(10, of: lamp, at: orders, issuer))
                    }
                    // The stalled client reads again at once (the close frame waits 15 s for it): what the
                    // kernel held, then a close with 1008.
                    var texts = 0
                    var close: RawWebSocket.Frame?
                    while let frame = await stalled.next() {
                        if frame.opcode == 0x1 { texts += 1 }
                        if frame.opcode == 0x8 { close = frame; break }
                    }
                    // The close frame comes after the events the server held, and the connection
                    // stays open until the client answers it.
                    let frame = try #require(close, "a close frame before the connection ended")
                    #expect(frame.closeCode == 1008, "closed as a policy violation (slow consumer)")
                    #expect(String(decoding: frame.payload.dropFirst(2), as: UTF8.self).contains("slow consumer"))
                    await stalled.send(opcode: 0x8, payload: [0x03, 0xF0])
                    #expect(texts < placed.count, "it was cut off, not held up for: \(texts) of \(placed.count)")
                    // One that never reads again: once cut off, its close frame waits 15 s, then
                    // the connection is dropped without it.
                    let gone = try await RawWebSocket(port: orders.port, path: "/ws/orders", receiveBuffer: 2048)
                    defer { gone.connection.shutdown() }
                    rounds = 0
                    while try await Self.metric("websocket_slow_clients_closed_total", of: orders) ?? 0 < 2 {
                        rounds += 1
                        try #require(rounds <= 80, "the client that never reads was not cut off after \(placed.count) orders")
                        placed.formUnion(try await Self.place(25, of: lamp, at: orders, issuer))
                    }
                    try await OrdersProcessTests.waitFor({ try await Self.metric("websocket_connections", of: orders) == 1 }, "both stalled clients' connections gone")
                    // Live events still flow to the reader after the cut.
                    placed.formUnion(try await Self.place(5, of: lamp, at: orders, issuer))
                    try await OrdersProcessTests.waitFor({ seen.ids.withLock { $0 } == placed }, "the reading client to get every event (\(placed.count) orders)")

                    await reader.send(opcode: 0x8, payload: [0x03, 0xE8])
                } catch {
                    // The reader waits for a close frame; a failed test sends none.
                    reader.connection.shutdown()
                    throw error
                }
                try await group.waitForAll()
            }
        }
    }

    /// The order ids a client's events named.
    final class SeenOrders: Sendable {
        let ids = Mutex<Set<Int>>([])
    }

    /// Places `count` one-line orders, five at a time, and answers their ids.
    static func place(_ count: Int, of item: Int, at orders: ServiceProcess, _ issuer: TestIssuer) async throws -> Set<Int> {
        try await withThrowingTaskGroup(of: Int.self) { group in
            var ids = Set<Int>()
            for index in 0..<count {
                if index >= 5, let id = try await group.next() { ids.insert(id) }
                group.addTask {
                    let response = try await OrdersProcessTests.order(orders, issuer, [(item, 1)])
                    return try #require(try OrdersProcessTests.json(response)["id"] as? Int, "status \(response.status)")
                }
            }
            for try await id in group { ids.insert(id) }
            return ids
        }
    }
}
