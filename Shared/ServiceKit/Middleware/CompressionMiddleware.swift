import CompressNIO
import HTTPTypes
import Hummingbird
import NIOCore

/// Compresses answers with zlib (compress-nio) when the client accepts gzip or deflate
/// (`COMPRESSION`, on by default): only bodies of a compressible type (text, JSON, XML, SVG,
/// JavaScript) and at least `COMPRESSION_MIN_BYTES` (1 KiB) long, or of unknown length. The body
/// is compressed as it is written, chunk by chunk, never collected whole; a streamed body is
/// flushed at each chunk so a consumer sees it as it comes. An answer that already has a
/// `Content-Encoding` (the gateway's proxied ones) passes as it is. A strong `ETag` becomes weak,
/// since the bytes differ, and `Vary: Accept-Encoding` tells caches why.
public struct CompressionMiddleware<Context: ServiceRequestContext>: RouterMiddleware {
    let minimumBytes: Int

    /// Compresses bodies of at least `minimumBytes`.
    public init(minimumBytes: Int = 1024) {
        self.minimumBytes = minimumBytes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        guard Self.compressible(response) else { return response }
        if let length = response.body.contentLength, length < minimumBytes { return response }
        response.headers[values: .vary].append("Accept-Encoding")
        guard request.method != .head, let encoding = Self.negotiate(request.headers[values: .acceptEncoding]) else { return response }
        response.headers[.contentEncoding] = encoding.name
        response.headers[.contentLength] = nil
        if let etag = response.headers[.eTag], !etag.hasPrefix("W/") { response.headers[.eTag] = "W/" + etag }
        let body = response.body
        let streamed = body.contentLength == nil
        response.body = ResponseBody { writer in
            let compressor = encoding.algorithm.compressor
            compressor.window = ByteBufferAllocator().buffer(capacity: 16 * 1024)
            try compressor.startStream()
            defer { try? compressor.finishStream() }
            let compressing = CompressingWriter(inner: writer, compressor: compressor, flush: streamed ? .sync : .no)
            try await body.write(compressing)
        }
        return response
    }

    /// gzip or deflate, whichever the client prefers (q-values; gzip on a tie); nil when it
    /// accepts neither.
    static func negotiate(_ values: [String]) -> (name: String, algorithm: CompressionAlgorithm)? {
        var best: (name: String, q: Double)?
        for item in values.flatMap({ $0.split(separator: ",") }) {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first else { continue }
            var q = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") { q = Double(parameter.dropFirst(2)) ?? 0 }
            let name: String
            switch coding {
            case "gzip", "x-gzip", "*": name = "gzip"
            case "deflate": name = "deflate"
            default: continue
            }
            guard q > 0 else { continue }
            if best == nil || q > best!.q || (q == best!.q && name == "gzip" && best!.name != "gzip") { best = (name, q) }
        }
        guard let best else { return nil }
        // HTTP's "deflate" is the zlib format (RFC 9110 §8.4.1.2).
        return best.name == "gzip" ? ("gzip", .gzip()) : ("deflate", .zlib())
    }

    static func compressible(_ response: Response) -> Bool {
        guard response.headers[.contentEncoding] == nil, response.headers[.contentRange] == nil,
            response.status.code >= 200, response.status != .noContent, response.status != .notModified,
            let type = response.headers[.contentType]?.lowercased()
        else { return false }
        let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return media.hasPrefix("text/") || media.hasSuffix("json") || media.hasSuffix("+xml") || media == "application/xml"
            || media == "application/javascript" || media == "image/svg+xml"
    }
}

/// Compresses what a body writes before handing it on.
final class CompressingWriter: ResponseBodyWriter {
    var inner: any ResponseBodyWriter
    let compressor: any NIOCompressor
    let flush: CompressNIOFlush

    init(inner: any ResponseBodyWriter, compressor: any NIOCompressor, flush: CompressNIOFlush) {
        self.inner = inner
        self.compressor = compressor
        self.flush = flush
    }

    func write(_ buffer: ByteBuffer) async throws {
        var input = buffer
        try await emit(compressing: &input, flush: flush)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {
        var empty = ByteBuffer()
        try await emit(compressing: &empty, flush: .finish)
        try await inner.finish(trailingHeaders)
    }

    /// Compresses `input` into the compressor's window and writes out every window that fills,
    /// and what is left once `flush` asks for it.
    private func emit(compressing input: inout ByteBuffer, flush: CompressNIOFlush) async throws {
        var output: [ByteBuffer] = []
        try input.compressStream(with: compressor, flush: flush) { window in output.append(window) }
        if flush == .sync, var window = compressor.window, window.readableBytes > 0 {
            output.append(window)
            window.clear()
            compressor.window = window
        }
        for part in output { try await inner.write(part) }
    }
}

/// Decodes `Content-Encoding: gzip` or `deflate` request bodies as they arrive, refusing with 413
/// as soon as the decoded bytes pass the route's body limit: a zip bomb costs at most the limit
/// and one window, whatever it would expand to. Any other coding is 415.
public struct RequestDecompressionMiddleware<Context: ServiceRequestContext>: RouterMiddleware {
    /// Decodes against the limits in each request's context.
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let coding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased(), coding != "identity" else {
            return try await next(request, context)
        }
        let algorithm: CompressionAlgorithm
        switch coding {
        case "gzip", "x-gzip": algorithm = .gzip()
        case "deflate": algorithm = .zlib()
        default:
            throw HTTPProblem(.unsupportedMediaType, detail: "Content-Encoding \(coding) is not supported; send gzip, deflate or identity", headers: [.acceptEncoding: "gzip, deflate"])
        }
        let isUpload = request.headers[.contentType]?.lowercased().hasPrefix("multipart/") == true
        let limit = isUpload ? context.limits.maxUploadBytes : context.limits.maxBodyBytes
        var head = request.head
        head.headerFields[.contentEncoding] = nil
        head.headerFields[.contentLength] = nil
        let decoded = Request(head: head, body: RequestBody(asyncSequence: DecodedBody(encoded: request.body, algorithm: algorithm, coding: coding, limit: limit)))
        return try await next(decoded, context)
    }
}

/// A request body decoded as it is read, at most `limit` bytes.
struct DecodedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let encoded: RequestBody
    let algorithm: CompressionAlgorithm
    let coding: String
    let limit: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        var source: RequestBody.AsyncIterator
        let decompressor: any NIODecompressor
        let limit: Int
        let coding: String
        var decoded = 0
        var pending: [ByteBuffer] = []
        var finished = false

        mutating func next() async throws -> ByteBuffer? {
            while pending.isEmpty {
                guard !finished else { return nil }
                guard var chunk = try await source.next() else {
                    finished = true
                    try? decompressor.finishStream()
                    return nil
                }
                var produced: [ByteBuffer] = []
                var total = decoded
                let limit = self.limit
                let coding = self.coding
                do {
                    try chunk.decompressStream(with: decompressor) { window in
                        total += window.readableBytes
                        if total > limit { throw HTTPProblem.contentTooLarge }
                        produced.append(window)
                    }
                } catch let problem as HTTPProblem {
                    finished = true
                    throw problem
                } catch {
                    finished = true
                    throw HTTPProblem(.badRequest, detail: "The body is not valid \(coding) data")
                }
                decoded = total
                pending = produced
            }
            return pending.removeFirst()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        let decompressor = algorithm.decompressor
        decompressor.window = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        try? decompressor.startStream()
        return AsyncIterator(source: encoded.makeAsyncIterator(), decompressor: decompressor, limit: limit, coding: coding)
    }
}
