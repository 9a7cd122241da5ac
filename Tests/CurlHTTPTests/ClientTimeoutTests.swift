import CurlHTTP
import Foundation
import ServiceKitTesting
import Testing

/// Timeouts, deadlines, cancellation and refused connections.
@Suite struct ClientTimeoutTests {
    func configuration(_ name: String) -> ClientConfiguration {
        var configuration = ClientConfiguration()
        configuration.threadName = name
        configuration.retry = .none
        return configuration
    }

    @Test func aSlowServerTimesOutAtTheRequestsTimeout() async throws {
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: configuration("curl-timeout")) { client in
                let start = ContinuousClock.now
                let error = await #expect(throws: CurlHTTPError.self) {
                    _ = try await client.execute(ClientRequest(url: "\(base)/slow?ms=1500", timeout: .milliseconds(200)))
                }
                #expect(error == .timeout)
                let elapsed = ContinuousClock.now - start
                #expect(elapsed >= .milliseconds(190) && elapsed < .milliseconds(1500), "\(elapsed)")
            }
        }
    }

    @Test func theIncomingRequestsDeadlineBoundsTheCall() async throws {
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: configuration("curl-deadline")) { client in
                let start = ContinuousClock.now
                let context = OutboundContext(deadline: start + .milliseconds(300))
                let error = await #expect(throws: CurlHTTPError.self) {
                    try await OutboundContext.$current.withValue(context) {
                        _ = try await client.execute(ClientRequest(url: "\(base)/slow?ms=1500"))
                    }
                }
                #expect(error == .timeout)
                #expect(ContinuousClock.now - start < .milliseconds(1500))
            }
        }
    }

    @Test func aDeadlineAlreadyPassedFailsWithoutSending() async throws {
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: configuration("curl-passed")) { client in
                await #expect(throws: CurlHTTPError.timeout) {
                    _ = try await client.execute(ClientRequest(url: "\(base)/echo/1"), deadline: .now - .milliseconds(5))
                }
                #expect(ledger.hits.load(ordering: .relaxed) == 0)
            }
        }
    }

    @Test func aRefusedConnectionIsATypedError() async throws {
        let port = try FreePort.next()
        try await CurlClient.withClient(configuration: configuration("curl-refused")) { client in
            let error = await #expect(throws: CurlHTTPError.self) {
                _ = try await client.execute(ClientRequest(url: "http://127.0.0.1:\(port)/"))
            }
            #expect(error == .connectionRefused)
            #expect(error?.description.contains("127.0.0.1:\(port)") == true, "the message names the peer")
        }
    }

    @Test func cancellingTheTaskAbortsTheTransfer() async throws {
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: configuration("curl-cancel")) { client in
                let start = ContinuousClock.now
                let call = Task { try await client.execute(ClientRequest(url: "\(base)/slow?ms=2000")) }
                try await Task.sleep(for: .milliseconds(150))
                #expect(client.statistics.inFlight == 1)
                call.cancel()
                await #expect(throws: CancellationError.self) { _ = try await call.value }
                #expect(ContinuousClock.now - start < .seconds(2))
                try await waitUntil("no transfer left in flight") { client.statistics.inFlight == 0 }
            }
        }
    }

    @Test func droppingAResponseBodyUnreadAbortsItsTransfer() async throws {
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: configuration("curl-drop")) { client in
                do {
                    let response = try await client.execute(ClientRequest(url: "\(base)/bytes/\(20 << 20)"))
                    #expect(response.status == .ok)
                }
                try await waitUntil("no transfer left in flight") { client.statistics.inFlight == 0 }
            }
        }
    }

    @Test func aMalformedURLIsRefusedWithoutAConnection() async throws {
        try await CurlClient.withClient(configuration: configuration("curl-badurl")) { client in
            await #expect(throws: CurlHTTPError.invalidURL) {
                _ = try await client.execute(ClientRequest(url: "ftp://127.0.0.1/file"))
            }
        }
    }
}

/// Polls `condition` for up to five seconds: for effects that land on the driver thread.
func waitUntil(_ what: Comment, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool) async throws {
    for _ in 0..<500 {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    #expect(condition(), what, sourceLocation: sourceLocation)
}
