import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKitTesting
import Testing

/// SIGTERM: readiness fails at once, serving goes on through SHUTDOWN_DELAY, in-flight requests
/// are drained, and the process exits 0.
@Suite(.serialized) struct LifecycleTests {
    @Test func slowRequestsInFlightAtSIGTERMAllSucceed() async throws {
        // The delay is long enough that the probes below land inside it even on a loaded machine
        // (CI runs the suites in parallel on two cores); each one checks that it did.
        let delay = Duration.seconds(3)
        try await ServiceProcess.with("catalog", environment: ["SHUTDOWN_DELAY": "3s", "SHUTDOWN_TIMEOUT": "10s"]) { catalog in
            try await catalog.waitUntilReady()
            let body = #"{"name": "Slow item", "price": 5, "stock": 1}"#
            let half = body.utf8.count / 2
            // Five clients that have sent half a request each: accepted and in flight.
            var connections: [RawHTTPConnection] = []
            for _ in 0..<5 {
                let connection = try RawHTTPConnection(port: catalog.port)
                await connection.send("POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + String(body.prefix(half)))
                connections.append(connection)
            }
            try await Task.sleep(for: .milliseconds(200))
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
