import Foundation
import HTTPTypes
import NIOCore

/// One HTTP request to send: a value, so it can be built anywhere, retried and logged.
public struct ClientRequest: Sendable {
    /// The method; only idempotent ones are ever retried.
    public var method: HTTPRequest.Method
    /// An absolute `http://` or `https://` URL.
    public var url: String
    /// Header fields sent as given; tracing and request-id headers are added when absent.
    public var headers: HTTPFields
    /// The body, if any.
    public var body: Body?
    /// Total time allowed for one attempt (connect to last byte); the client's default when nil.
    public var timeout: Duration?
    /// The name metrics, logs and the circuit breaker use for the server; its host:port when nil.
    public var peer: String?
    /// Whether to ask for every encoding libcurl decodes (when the request names none) and hand
    /// back the decoded body. A proxy turns it off: the bytes and their `Content-Encoding` then
    /// stay as the server sent them, for the client to decode.
    public var decodesContent = true

    /// A request for `url`; nothing is sent until the client executes it.
    public init(method: HTTPRequest.Method = .get, url: String, headers: HTTPFields = [:], body: Body? = nil, timeout: Duration? = nil, peer: String? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.peer = peer
    }

    /// Whether a failed attempt may be sent again without changing what the server did: the
    /// idempotent methods, and any request with an `Idempotency-Key` (the server answers a
    /// repeat with the first answer).
    public var isIdempotent: Bool {
        switch method {
        case .get, .head, .options, .trace, .put, .delete: true
        default: headers[Self.idempotencyKey] != nil
        }
    }

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    /// A request body: bytes in memory, a file read as it is sent, or any async sequence of chunks.
    public struct Body: Sendable {
        enum Storage: Sendable {
            case bytes(ByteBuffer)
            case file(path: String)
            case stream(length: Int64?, makeChunks: @Sendable () -> AnyAsyncChunks)
        }

        let storage: Storage
        /// The Content-Type sent when the request's headers carry none.
        let contentType: String?

        /// Bytes already in memory.
        public static func bytes(_ buffer: ByteBuffer, contentType: String? = nil) -> Body {
            Body(storage: .bytes(buffer), contentType: contentType)
        }

        /// Bytes already in memory.
        public static func bytes(_ bytes: some Sequence<UInt8>, contentType: String? = nil) -> Body {
            Body(storage: .bytes(ByteBuffer(bytes: bytes)), contentType: contentType)
        }

        /// A value encoded as JSON (`application/json`).
        public static func json(_ value: some Encodable, encoder: JSONEncoder = JSONEncoder()) throws -> Body {
            Body(storage: .bytes(ByteBuffer(bytes: try encoder.encode(value))), contentType: "application/json")
        }

        /// A file, read in chunks as libcurl asks for them; it is never held whole in memory.
        public static func file(_ path: String, contentType: String? = nil) -> Body {
            Body(storage: .file(path: path), contentType: contentType)
        }

        /// Chunks from an async sequence, pulled only as fast as the connection takes them.
        /// Without `length` the body is sent chunked. Such a body is sent once: it is never retried.
        public static func stream<Chunks: AsyncSequence & Sendable>(
            _ chunks: Chunks, length: Int64? = nil, contentType: String? = nil
        ) -> Body where Chunks.Element == ByteBuffer {
            Body(storage: .stream(length: length, makeChunks: { AnyAsyncChunks(chunks) }), contentType: contentType)
        }

        /// Whether the body can be produced again for a retry.
        var isReplayable: Bool {
            if case .stream = storage { return false }
            return true
        }
    }
}

/// An async sequence of byte chunks with its element type erased, so a body can be stored.
struct AnyAsyncChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    private let make: @Sendable () -> AsyncIterator

    init<Chunks: AsyncSequence & Sendable>(_ chunks: Chunks) where Chunks.Element == ByteBuffer {
        make = {
            var iterator = chunks.makeAsyncIterator()
            return AsyncIterator(next: { try await iterator.next() })
        }
    }

    func makeAsyncIterator() -> AsyncIterator { make() }

    struct AsyncIterator: AsyncIteratorProtocol {
        let next: () async throws -> ByteBuffer?
        mutating func next() async throws -> ByteBuffer? { try await next() }
    }
}
