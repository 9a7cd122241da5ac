import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import FleetTestSupport
import ServiceKitTesting
import Testing

/// SIGTERM: readiness fails at once, serving goes on through SHUTDOWN_DELAY, in-flight requests
/// are drained, and the process exits 0.
@Suite(.serialized) struct LifecycleTests {
    /// Waits until `service`'s `http_server_active_requests` gauge shows `count` requests in flight.
    static func waitUntilInFlight(_ count: Int, _ service: ServiceProcess, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            let scrape = String(buffer: try await service.admin("/metrics").body ?? ByteBuffer())
            last = scrape.split(separator: "\n").first { $0.hasPrefix("http_server_active_requests ") }.map(String.init) ?? "(no gauge)"
            if Double(last.dropFirst("http_server_active_requests ".count)) == Double(count) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw HarnessError("not \(count) requests in flight within \(timeout): \(last)")
    }

    @Test func slowRequestsInFlightAtSIGTERMAllSucceed() async throws {
        // The delay is long enough that the probes below land inside it even on a loaded machine
        // (CI runs the suites in parallel on two cores); each one checks that it did.
        let delay = Duration.seconds(3)
        // Writes need a token: users runs too, and catalog checks the token against its keys.
        try await UsersAndCatalog.with(catalog: ["SHUTDOWN_DELAY": "3s", "SHUTDOWN_TIMEOUT": "10s"]) { _, catalog, issuer in
            let authorization = try issuer.authorization()
            let body = #"{"name": "Slow item", "price": 5, "stock": 1}"#
            let half = body.utf8.count / 2
            // Five clients that have sent half a request each: accepted and in flight.
            var connections: [RawHTTPConnection] = []
            for _ in 0..<5 {
                let connection = try RawHTTPConnection(port: catalog.port)
                await connection.send(
                    "POST /items HTTP/1.1\r\nHost: x\r\nAuthorization: \(authorization)\r\nContent-Type: application/json\r\n"
                        + "Content-Length: \(body.utf8.count)\r\n\r\n" + String(body.prefix(half))
                )
                connections.append(connection)
            }
            // All five accepted and waiting for the rest of their bodies before the signal.
            try await Self.waitUntilInFlight(5, catalog)
            let signalled = ContinuousClock.now
            catalog.signal(SIGTERM)
            try await Task.sleep(for: .milliseconds(150))

            let readiness = try await catalog.admin("/readyz")
            #expect(readiness.status == .serviceUnavailable, "readiness fails at once")
            let during = try await catalog.api("/items")
            #expect(during.status == .ok, "new requests are still served during SHUTDOWN_DELAY")
            #expect(ContinuousClock.now - signalled < delay, "the probes above ran inside the delay")

            // Finish the slow requests after the delay, while the server is draining.
            try await Task.sleep(until: signalled + delay + .milliseconds(300))
            #expect(catalog.isRunning)
            for connection in connections { await connection.send(String(body.dropFirst(half))) }
            for connection in connections {
                let response = await connection.readResponse()
                #expect(response?.status == 201, "an accepted request was dropped")
            }
            let status = await catalog.waitForExit(timeout: .seconds(15))
            #expect(status == 0)
            #expect(ContinuousClock.now - signalled < delay + .seconds(10))
        }
    }

    /// Users and orders drain as catalog does: five half-sent writes (a registration, an order
    /// reserving stock through catalog) in flight at SIGTERM all finish 201, and the process exits 0.
    @Test(arguments: ["users", "orders"])
    func writesInFlightAtSIGTERMFinishAndTheProcessExits0(service: String) async throws {
        let shutdown = ["SHUTDOWN_DELAY": "1s", "SHUTDOWN_TIMEOUT": "10s"]
        try await UsersAndCatalog.with(users: service == "users" ? shutdown : [:]) { users, catalog, issuer in
            let authorization = try issuer.authorization()
            func drain(_ target: ServiceProcess, path: String, bodies: [String]) async throws {
                var connections: [(RawHTTPConnection, String)] = []
                for body in bodies {
                    let connection = try RawHTTPConnection(port: target.port)
                    await connection.send(
                        "POST \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: \(authorization)\r\nContent-Type: application/json\r\n"
                            + "Content-Length: \(body.utf8.count)\r\n\r\n" + String(body.prefix(body.utf8.count / 2))
                    )
                    connections.append((connection, String(body.dropFirst(body.utf8.count / 2))))
                }
                try await Self.waitUntilInFlight(bodies.count, target)
                let signalled = ContinuousClock.now
                target.signal(SIGTERM)
                try await Task.sleep(until: signalled + .milliseconds(1300))
                #expect(target.isRunning, "still draining")
                for (connection, rest) in connections { await connection.send(rest) }
                for (connection, _) in connections {
                    #expect(await connection.readResponse()?.status == 201, "an accepted request was dropped")
                }
                #expect(await target.waitForExit(timeout: .seconds(15)) == 0)
            }
            if service == "users" {
                let bodies = (0..<5).map { #"{"username": "user\#($0)", "email": "user\#($0)@example.org", "password": "correct horse"}"# }
                try await drain(users, path: "/users", bodies: bodies)
            } else {
                let created = try await catalog.api("/items", method: .post, headers: issuer.bearer(), body: #"{"name": "Lamp", "price": 2, "stock": 100}"#)
                #expect(created.status == .created)
                let folder = try TemporaryDirectory.make(prefix: "orders-drain")
                defer { try? FileManager.default.removeItem(atPath: folder) }
                var environment = shutdown
                environment.merge([
                    "USERS_URL": "http://127.0.0.1:\(users.port)", "CATALOG_URL": "http://127.0.0.1:\(catalog.port)",
                    "DATABASE_URL": "sqlite:///\(folder)/orders.db", "DATA_DIR": folder,
                ]) { _, new in new }
                try await ServiceProcess.with("orders", environment: environment) { orders in
                    try await orders.waitUntilReady()
                    let bodies = Array(repeating: #"{"lines": [{"item_id": 1, "quantity": 1}]}"#, count: 5)
                    try await drain(orders, path: "/orders", bodies: bodies)
                }
                let stock = try JSONSerialization.jsonObject(with: Data((try await catalog.api("/items/1").body ?? .init()).readableBytesView)) as? [String: Any]
                #expect(stock?["stock"] as? Int == 95, "each drained order reserved its stock once")
            }
        }
    }

    @Test func withNothingInFlightTheProcessExitsRightAfterTheDelay() async throws {
        try await ServiceProcess.with("catalog", environment: ["SHUTDOWN_DELAY": "500ms"]) { catalog in
            try await catalog.waitUntilReady()
            let start = ContinuousClock.now
            catalog.signal(SIGTERM)
            let status = await catalog.waitForExit(timeout: .seconds(10))
            let took = ContinuousClock.now - start
            #expect(status == 0)
            #expect(took >= .milliseconds(500))
            #expect(took < .seconds(5))
            #expect(catalog.stdoutLines.last?.contains(#""msg":"stopped""#) == true)
        }
    }
}
