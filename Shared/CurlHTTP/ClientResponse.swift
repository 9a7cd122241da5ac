import Foundation
import HTTPTypes
import NIOCore
import NIOFileSystem

/// The answer to a request: status and headers at once, the body as it arrives.
public struct ClientResponse: Sendable {
    /// The final status (interim 1xx answers are skipped).
    public let status: HTTPResponse.Status
    /// The HTTP version the answer came over: "1.0", "1.1", "2" or "3".
    public let httpVersion: String
    /// The response's header fields.
    public let headers: HTTPFields
    /// The body, streamed with backpressure: libcurl stops reading the socket while it is not consumed.
    public let body: ResponseBody
    /// The peer name this response is counted under.
    public let peer: String
}

/// A response body as an async sequence of chunks. Iterate it once; dropping it aborts the transfer.
public struct ResponseBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let chunks: BodyChunks

    /// Iterates the chunks as libcurl receives them.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: chunks.makeAsyncIterator())
    }

    /// The iterator over the body's chunks.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: BodyChunks.AsyncIterator

        /// The next chunk, nil at the end; throws the transfer's error if it failed midway.
        public mutating func next() async throws -> ByteBuffer? {
            try await base.next()
        }
    }

    /// The whole body, refused past `limit` bytes so a peer cannot exhaust memory.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        for try await var chunk in self {
            guard collected.readableBytes + chunk.readableBytes <= limit else {
                throw CurlHTTPError.bodyTooLarge(limit: limit)
            }
            collected.writeBuffer(&chunk)
        }
        return collected
    }

    /// Writes the body to a file as it arrives, never holding more than a few chunks in memory.
    /// Returns the number of bytes written.
    @discardableResult
    public func write(toFile path: String) async throws -> Int64 {
        try await FileSystem.shared.withFileHandle(
            forWritingAt: FilePath(path), options: .newFile(replaceExisting: true)
        ) { handle in
            var writer = handle.bufferedWriter()
            var written: Int64 = 0
            for try await chunk in self {
                written += Int64(try await writer.write(contentsOf: chunk))
            }
            try await writer.flush()
            return written
        }
    }
}
