import CompressNIO
import FleetTestSupport
import Foundation
import HTTPTypes
import NIOCore
import ServiceKitTesting
import Synchronization
import Testing

/// The middleware kit in the real executables: slow clients cut off while others are served,
/// gzip both ways, and what every answer carries, over raw sockets where the timing matters.
@Suite(.serialized) struct MiddlewareProcessTests {
    /// A metric's value from a process's `/metrics`.
    static func metric(_ name: String, of process: ServiceProcess) async throws -> Double? {
        let text = String(buffer: try await process.admin("/metrics").body ?? ByteBuffer())
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
            .flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    }

    @Test func twoHundredSlowlorisClientsAreCutOffWhileOthersAreServed() async throws {
        try await UsersAndCatalog.with(catalog: ["REQUEST_HEADER_TIMEOUT": "3s"]) { _, catalog, issuer in
            let created = try await catalog.api("/items", method: .post, headers: try issuer.bearer(), body: #"{"name": "Lamp", "price": 3}"#)
            #expect(created.status == .created)
            // 200 clients start a request head and trickle a header byte every half second: each
            // byte arrives well within any idle timeout, the head never ends.
            var slow: [RawHTTPConnection] = []
            defer { for connection in slow { connection.shutdown() } }
            for _ in 0..<200 {
                let connection = try RawHTTPConnection(port: catalog.port)
                await connection.send("GET /items HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                slow.append(connection)
            }
            let started = ContinuousClock.now
            let trickling = slow
            let outcome = try await withThrowingTaskGroup(of: [Int].self) { group in
                group.addTask {
                    // Every slow client is answered 408 and closed, after the deadline and within a margin.
                    try await withThrowingTaskGroup(of: Int.self) { readers in
                        for connection in trickling {
                            readers.addTask {
                                for _ in 0..<60 {
                                    guard await connection.send("a") else { break }
                                    try await Task.sleep(for: .milliseconds(500))
                                }
                                return await connection.readResponse()?.status ?? 0
                            }
                        }
                        var statuses: [Int] = []
                        for try await status in readers { statuses.append(status) }
                        return statuses
                    }
                }
                // Meanwhile normal requests are answered, each promptly.
                var served = 0
                while ContinuousClock.now - started < .seconds(3) {
                    let begun = ContinuousClock.now
                    let response = try await catalog.api("/items/1")
                    #expect(response.status == .ok)
                    #expect(ContinuousClock.now - begun < .seconds(2), "a normal request waited behind the slow ones")
                    served += 1
                }
                #expect(served >= 3)
                return try await group.next() ?? []
            }
            let took = ContinuousClock.now - started
            #expect(outcome.count == 200)
            #expect(outcome.allSatisfy { $0 == 408 }, "every slow client got 408: \(Dictionary(grouping: outcome, by: { $0 }).mapValues(\.count))")
            #expect(took >= .seconds(3) && took < .seconds(25), "cut off after REQUEST_HEADER_TIMEOUT, took \(took)")
            #expect(try await Self.metric("http_server_slow_clients_closed_total", of: catalog) ?? 0 >= 200)
            // The service is whole afterwards.
            #expect(try await catalog.api("/items/1").status == .ok)
        }
    }

    @Test func aBodyThatStallsIsCutOffAndOneThatKeepsComingIsNot() async throws {
        try await ServiceProcess.with("users", environment: ["BCRYPT_COST": "4", "REQUEST_BODY_TIMEOUT": "1s"]) { users in
            try await users.waitUntilReady()
            let body = #"{"username": "slowpoke", "email": "slow@example.com", "password": "correct horse battery", "name": "Slow"}"#
            let head = "POST /users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            // Ten bytes, then nothing: the connection is closed about a second later.
            let stalled = try RawHTTPConnection(port: users.port)
            defer { stalled.shutdown() }
            await stalled.send(head + String(body.prefix(10)))
            let begun = ContinuousClock.now
            let answer = await stalled.receive()
            #expect(answer.isEmpty, "closed without an answer")
            #expect(ContinuousClock.now - begun < .seconds(10))
            // The same body a few bytes every 300 ms: slower in total than the timeout, never
            // pausing as long; it is answered.
            let steady = try RawHTTPConnection(port: users.port)
            defer { steady.shutdown() }
            await steady.send(head)
            var rest = Substring(body)
            while !rest.isEmpty {
                await steady.send(String(rest.prefix(12)))
                rest = rest.dropFirst(12)
                try await Task.sleep(for: .milliseconds(300))
            }
            let response = await steady.readResponse()
            #expect(response?.status == 201, "\(response?.body ?? "no answer")")
        }
    }

    @Test func theFirstRequestOfAWebSocketServerIsGuardedAndItsSocketsAreNot() async throws {
        try await UsersAndCatalog.with { users, catalog, issuer in
            let folder = try TemporaryDirectory.make(prefix: "orders-slow")
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try await ServiceProcess.with("orders", environment: [
                "USERS_URL": "http://127.0.0.1:\(users.port)", "CATALOG_URL": "http://127.0.0.1:\(catalog.port)",
                "DATABASE_URL": "sqlite:///\(folder)/orders.db", "DATA_DIR": folder, "REQUEST_HEADER_TIMEOUT": "1s",
            ]) { orders in
                try await orders.waitUntilReady()
                let slow = try RawHTTPConnection(port: orders.port)
                defer { slow.shutdown() }
                await slow.send("GET /orders HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                let response = await slow.readResponse()
                #expect(response?.status == 408)
                // An upgraded connection idles past the header timeout and still gets its events.
                let socket = try RawHTTPConnection(port: orders.port)
                defer { socket.shutdown() }
                await socket.send("GET /ws/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                let upgrade = String(decoding: await socket.receive(), as: UTF8.self)
                #expect(upgrade.hasPrefix("HTTP/1.1 101"))
                try await Task.sleep(for: .seconds(2))
                let item = try await catalog.api("/items", method: .post, headers: try issuer.bearer(), body: #"{"name": "Lamp", "price": 3, "stock": 5}"#)
                #expect(item.status == .created)
                let placed = try await orders.api("/orders", method: .post, headers: try issuer.bearer(), body: #"{"lines": [{"item_id": 1, "quantity": 1}]}"#)
                #expect(placed.status == .created)
                let frame = await socket.receive()
                #expect(frame.first == 0x81, "a text frame after two idle seconds")
            }
        }
    }

    @Test func compressionWorksBothWaysInTheRealService() async throws {
        try await UsersAndCatalog.with { _, catalog, issuer in
            // A gzipped JSON body is decoded.
            var json = ByteBuffer(string: #"{"name": "Gzipped lamp", "price": 3, "description": "\#(String(repeating: "bright ", count: 200))"}"#)
            let gzipped = try json.compress(with: .gzip())
            var headers = try issuer.bearer()
            headers[.contentEncoding] = "gzip"
            headers[.contentType] = "application/json"
            let created = try await ServiceProcess.request(port: catalog.port, "/items", method: .post, headers: headers, bytes: gzipped)
            #expect(created.status == .created)
            for index in 0..<20 {
                _ = try await catalog.api("/items", method: .post, headers: try issuer.bearer(), body: #"{"name": "Lamp \#(index)", "price": 3}"#)
            }
            let listed = try await catalog.api("/items?limit=50", headers: [.acceptEncoding: "gzip"])
            #expect(listed.headers[.contentEncoding] == "gzip")
            var body = listed.body ?? ByteBuffer()
            let decoded = String(buffer: try body.decompress(with: .gzip()))
            #expect(decoded.contains("Gzipped lamp") && decoded.contains("Lamp 19"))
            #expect(listed.headers[.xContentTypeOptions] == "nosniff")
        }
    }

    @Test func aZipBombAtTheRealServiceIs413AndItsRSSStaysFlat() async throws {
        // 512 MiB of spaces inside a JSON string, gzipped to about half a megabyte.
        let payload = try GzipBomb.make(prefix: #"{"name": "bomb", "price": 1, "description": ""#, mebibytes: 512, of: UInt8(ascii: " "))
        try await UsersAndCatalog.with { _, catalog, issuer in
            let before = try Self.rss(of: catalog.pid)
            var headers = try issuer.bearer()
            headers[.contentEncoding] = "gzip"
            headers[.contentType] = "application/json"
            let response = try await ServiceProcess.request(port: catalog.port, "/items", method: .post, headers: headers, bytes: payload)
            #expect(response.status == .contentTooLarge)
            let after = try Self.rss(of: catalog.pid)
            #expect(after - before < 48 << 20, "RSS grew \((after - before) >> 20) MiB for a 512 MiB bomb (limit 1 MiB)")
            #expect(try await catalog.api("/items").status == .ok)
        }
    }

    /// A process's resident set, from /proc.
    static func rss(of pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return (Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0) * 1024
    }
}
