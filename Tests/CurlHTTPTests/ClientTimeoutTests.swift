import CurlHTTP
import Foundation
import Logging
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
                try await waitUntil("the call is in flight") { client.statistics.inFlight == 1 }
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

/// A listening socket whose accept queue is full and never drained: a peer that takes no new
/// connections, so a connect hangs until the client's connect timeout. Closed by `close()`.
final class UnresponsiveListener: @unchecked Sendable {
    let port: Int
    private var fds: [Int32] = []

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        listen(listener, 0)
        port = Int(UInt16(bigEndian: address.sin_port))
        fds.append(listener)
        // Fill the queue with connections nobody accepts; later SYNs are dropped by the kernel.
        for _ in 0..<4 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            _ = fcntl(filler, F_SETFL, fcntl(filler, F_GETFL) | O_NONBLOCK)
            _ = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) }
            }
            fds.append(filler)
        }
    }

    func close() {
        for fd in fds { _ = Glibc.close(fd) }
        fds = []
    }
}

/// Connect timeouts and the per-call debug line.
@Suite struct ClientConnectTests {
    @Test func aPeerThatAcceptsNoConnectionHitsTheConnectTimeout() async throws {
        let listener = try UnresponsiveListener()
        defer { listener.close() }
        var configuration = ClientConfiguration()
        configuration.threadName = "curl-connect"
        configuration.retry = .none
        configuration.connectTimeout = .milliseconds(300)
        try await CurlClient.withClient(configuration: configuration) { client in
            let start = ContinuousClock.now
            let error = await #expect(throws: CurlHTTPError.self) {
                _ = try await client.execute(ClientRequest(url: "http://127.0.0.1:\(listener.port)/", timeout: .seconds(10)))
            }
            #expect(error == .connectTimeout, "\(String(describing: error))")
            // The error names the connect timeout; the bound leaves a loaded machine margin below the 10 s total.
            #expect(ContinuousClock.now - start < .seconds(8), "the connect timeout, not the 10 s total, ended it")
        }
    }

    @Test func everyCallLogsOneDebugLineWithItsDuration() async throws {
        let logs = CapturedLogs()
        try await withTestServer { base, _ in
            var configuration = ClientConfiguration()
            configuration.threadName = "curl-log"
            configuration.logger = Logger(label: "client", factory: logs.factory)
            configuration.logger.logLevel = .debug
            try await CurlClient.withClient(configuration: configuration) { client in
                for n in 0..<3 {
                    _ = try await client.execute(ClientRequest(url: "\(base)/echo/\(n)", peer: "echo")).body.collect(upTo: 64)
                }
            }
        }
        let calls = logs.records.filter { $0.message == "http client call" }
        #expect(calls.count == 3)
        for call in calls {
            #expect(call.level == .debug)
            #expect(call.metadata["peer"] == "echo")
            #expect(call.metadata["status"] == "200")
            #expect(call.metadata["method"] == "GET")
            #expect(Double(call.metadata["duration_ms"] ?? "") ?? -1 > 0)
        }
    }
}
