import CurlHTTP
import Foundation
import NIOCore
import Testing

/// Large bodies in both directions without holding them whole.
@Suite struct ClientStreamingTests {
    @Test func anUploadOfUnknownLengthIsSentChunked() async throws {
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: largeBodyConfiguration("curl-chunked")) { client in
                let response = try await client.execute(ClientRequest(
                    method: .post, url: "\(base)/count", body: .stream(ChunkSequence(total: 300_000, chunk: 10_000))))
                #expect(String(buffer: try await response.body.collect(upTo: 64)) == "300000")
                #expect(ledger.lastHeaders.withLock { $0[.transferEncoding] } == "chunked")
            }
        }
    }

    @Test func aFileIsUploadedAndADownloadIsWrittenToAFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curlhttp-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("up.bin").path
        try Data(repeating: 0x42, count: 3_000_000).write(to: URL(fileURLWithPath: source))
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: largeBodyConfiguration("curl-files")) { client in
                let uploaded = try await client.execute(ClientRequest(method: .put, url: "\(base)/count", body: .file(source)))
                #expect(String(buffer: try await uploaded.body.collect(upTo: 64)) == "3000000")

                let target = directory.appendingPathComponent("down.bin").path
                let written = try await client.execute(ClientRequest(url: "\(base)/bytes/2500000")).body.write(toFile: target)
                #expect(written == 2_500_000)
                #expect(try FileManager.default.attributesOfItem(atPath: target)[.size] as? Int == 2_500_000)
            }
        }
    }

    @Test func aBodyOverTheCollectLimitIsRefused() async throws {
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: largeBodyConfiguration("curl-limit")) { client in
                let response = try await client.execute(ClientRequest(url: "\(base)/bytes/200000"))
                await #expect(throws: CurlHTTPError.bodyTooLarge(limit: 100_000)) {
                    _ = try await response.body.collect(upTo: 100_000)
                }
            }
        }
    }
}

/// `total` bytes in chunks, made on demand: a body that never exists whole.
struct ChunkSequence: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let total: Int
    let chunk: Int
    /// Sampled every megabyte, when set.
    var peak: PeakMemory?

    func makeAsyncIterator() -> Iterator { Iterator(left: total, chunk: chunk, peak: peak) }

    struct Iterator: AsyncIteratorProtocol {
        var left: Int
        let chunk: Int
        let peak: PeakMemory?
        mutating func next() async -> ByteBuffer? {
            guard left > 0 else { return nil }
            let size = Swift.min(left, chunk)
            left -= size
            if let peak, left % (1 << 20) < size { peak.sample() }
            return ByteBuffer(repeating: 0x62, count: size)
        }
    }

    /// The same chunks, sampling resident memory every megabyte or so.
    func sampling(_ peak: PeakMemory) -> ChunkSequence {
        ChunkSequence(total: total, chunk: chunk, peak: peak)
    }
}

/// The highest resident memory seen above a baseline.
final class PeakMemory: @unchecked Sendable {
    private let lock = NSLock()
    private let baseline: Int
    private var peak: Int

    init(baseline: Int) {
        self.baseline = baseline
        self.peak = baseline
    }

    func sample() {
        let now = residentBytes()
        lock.withLock { peak = max(peak, now) }
    }

    var growth: Int { lock.withLock { peak - baseline } }
}
