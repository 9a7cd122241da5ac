import CurlHTTP
import Foundation
import NIOCore
import Testing

/// The client under load: many requests, large bodies, and what is left afterwards.
///
/// These measure the process (resident memory, sockets, threads), so `make test` runs them in a
/// `swift test` of their own, one at a time, after the rest of the suite: other tests running
/// beside them would move the figures, and their load would slow timing-sensitive tests.
@Suite(.serialized) struct ClientLoadTests {
    static let fiftyMegabytes = 50 << 20
    /// Allowed growth of resident memory while 50 MB pass through: a few buffers, not the body.
    static let memoryBound = 24 << 20

    @Test func aThousandRequestsWith64InFlightAllGetTheirOwnAnswer() async throws {
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: largeBodyConfiguration("curl-thousand")) { client in
                let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                    var answers: [Int: String] = [:]
                    for n in 0..<1000 {
                        if n >= 64, let (index, text) = try await group.next() { answers[index] = text }
                        group.addTask {
                            let response = try await client.execute(ClientRequest(url: "\(base)/echo/\(n)"))
                            let body = try await response.body.collect(upTo: 1024)
                            return (n, String(buffer: body))
                        }
                    }
                    for try await (index, text) in group { answers[index] = text }
                    return answers
                }
                #expect(answers.count == 1000)
                #expect(answers.allSatisfy { String($0.key) == $0.value })
                #expect(ledger.hits.load(ordering: .relaxed) == 1000)
                let connections = ledger.ports.withLock { $0.count }
                #expect(connections <= 64, "at most one connection per request in flight, reused after")
            }
        }
    }

    @Test func tenThousandRequestsLeakNoHandleThreadOrSocket() async throws {
        try await withTestServer { base, _ in
            let port = Int(base.split(separator: ":").last!)!
            #expect(threads(named: "curl-leak") == 0)
            // Other suites' servers run beside this one, but none of their sockets go to this port.
            let baseline = socketsConnected(toPort: port)
            var configuration = ClientConfiguration()
            configuration.threadName = "curl-leak"
            let client = CurlClient(configuration: configuration)
            #expect(threads(named: "curl-leak") == 0, "the thread starts with the first request")
            _ = try await client.execute(ClientRequest(url: "\(base)/echo/0")).body.collect(upTo: 64)
            try await waitUntil("the driver thread started") { threads(named: "curl-leak") == 1 }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<32 {
                    group.addTask {
                        for n in stride(from: worker, to: 10_000, by: 32) {
                            let response = try await client.execute(ClientRequest(url: "\(base)/echo/\(n)"))
                            let body = try await response.body.collect(upTo: 64)
                            guard String(buffer: body) == String(n) else { throw CurlHTTPError.decoding }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(client.statistics.inFlight == 0)
            let open = socketsConnected(toPort: port) - baseline
            #expect(open >= 1 && open <= 32, "connections are pooled, not one per request: \(open)")
            await client.shutdown()
            #expect(client.statistics.liveHandles == 0)
            try await waitUntil("the driver thread exited") { threads(named: "curl-leak") == 0 }
            try await waitUntil("every connection closed: \(socketsConnected(toPort: port) - baseline) open") { socketsConnected(toPort: port) == baseline }
        }
    }

    @Test func a50MBDownloadStreamsWithBoundedMemory() async throws {
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: largeBodyConfiguration("curl-download")) { client in
                let baseline = residentBytes()
                var peak = baseline
                var received = 0
                let response = try await client.execute(ClientRequest(url: "\(base)/bytes/\(Self.fiftyMegabytes)"))
                for try await chunk in response.body {
                    received += chunk.readableBytes
                    if received % (1 << 20) < chunk.readableBytes { peak = max(peak, residentBytes()) }
                }
                #expect(received == Self.fiftyMegabytes)
                #expect(peak - baseline < Self.memoryBound, "RSS grew by \((peak - baseline) >> 20) MiB")
            }
        }
    }

    @Test func a50MBUploadFromAnAsyncSequenceStreamsWithBoundedMemory() async throws {
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: largeBodyConfiguration("curl-upload")) { client in
                let baseline = residentBytes()
                let chunks = ChunkSequence(total: Self.fiftyMegabytes, chunk: 64 * 1024)
                let peak = PeakMemory(baseline: baseline)
                let response = try await client.execute(ClientRequest(
                    method: .put, url: "\(base)/count", body: .stream(chunks.sampling(peak), length: Int64(Self.fiftyMegabytes))))
                #expect(String(buffer: try await response.body.collect(upTo: 64)) == String(Self.fiftyMegabytes))
                #expect(peak.growth < Self.memoryBound, "RSS grew by \(peak.growth >> 20) MiB")
            }
        }
    }
}
