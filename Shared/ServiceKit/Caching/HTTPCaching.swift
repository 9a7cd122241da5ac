import Crypto
import HTTPTypes
import Hummingbird
import NIOCore

/// An entity tag (`ETag`), strong or weak, and the `If-None-Match` test that makes a GET a 304.
public struct EntityTag: Sendable, Equatable, CustomStringConvertible {
    /// The opaque value, without quotes.
    public var opaque: String
    /// Weak (`W/"…"`): equal meaning, not necessarily equal bytes.
    public var weak: Bool

    /// A tag of `opaque` (quotes and backslashes are not allowed in it and are dropped).
    public init(_ opaque: String, weak: Bool = false) {
        self.opaque = opaque.filter { $0 != "\"" && $0 != "\\" && $0.isASCII && !$0.isWhitespace }
        self.weak = weak
    }

    /// A weak tag of these bytes' SHA-256: for answers whose version is not known otherwise.
    public init<Bytes: Sequence<UInt8>>(hashing bytes: Bytes) {
        let digest = SHA256.hash(data: Array(bytes))
        self.init(digest.prefix(12).map { String(format: "%02x", $0) }.joined(), weak: true)
    }

    /// The header value: `"v1"` or `W/"v1"`.
    public var description: String { (weak ? "W/" : "") + "\"\(opaque)\"" }

    /// Whether `If-None-Match` (`*`, or a list of tags) names this tag, compared weakly as RFC 9110
    /// says for GET and HEAD; nil (no header) never matches.
    public func matches(ifNoneMatch header: String?) -> Bool {
        guard let header else { return false }
        for candidate in header.split(separator: ",") {
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag = String(tag.dropFirst(2)) }
            if tag == "\"\(opaque)\"" { return true }
        }
        return false
    }
}

/// A `Cache-Control` value, built rather than spelled: `.maxAge(.seconds(60))`, `.noStore`.
public struct CacheControl: Sendable, Equatable, CustomStringConvertible {
    /// The directives in order.
    public var directives: [String]

    /// Directives as written (`["private", "max-age=5"]`).
    public init(_ directives: [String]) { self.directives = directives }

    /// Shared caches and browsers may keep the answer for `age`.
    public static func maxAge(_ age: Duration, public isPublic: Bool = true, staleWhileRevalidate: Duration? = nil) -> CacheControl {
        var directives = [isPublic ? "public" : "private", "max-age=\(age.components.seconds)"]
        if let stale = staleWhileRevalidate { directives.append("stale-while-revalidate=\(stale.components.seconds)") }
        return CacheControl(directives)
    }

    /// Keep it, but ask the server (with the ETag) before each use.
    public static let revalidate = CacheControl(["no-cache"])
    /// Answers per user (a token's): only the browser may keep them, and revalidates.
    public static let privateRevalidate = CacheControl(["private", "no-cache"])
    /// Never keep it (secrets, tokens).
    public static let noStore = CacheControl(["no-store"])

    public var description: String { directives.joined(separator: ", ") }
}

extension Reply {
    /// `body` with its `ETag` and `Cache-Control`, or a 304 with just those when `ifNoneMatch`
    /// names the tag: the whole conditional GET of a route that knows its version.
    public static func conditional(_ body: Body, etag: EntityTag, cacheControl: CacheControl = .revalidate, ifNoneMatch: String?) -> Reply {
        let headers: HTTPFields = [.eTag: etag.description, .cacheControl: cacheControl.description]
        if etag.matches(ifNoneMatch: ifNoneMatch) { return Reply(status: .notModified, headers: headers) }
        return Reply(body, headers: headers)
    }
}

/// Conditional GET for any route whose answer is in memory: a 200 to a `GET`/`HEAD` without an
/// `ETag` of its own gets a weak one hashed from its body and `cacheControl`, and becomes a 304
/// (no body) when `If-None-Match` names it. Add it to a group: `api.group("", middleware:
/// [ConditionalGETMiddleware(cacheControl: .maxAge(.seconds(30)))])`. The handler still runs;
/// what is saved is the transfer, and the client's parsing. A streamed body, or one larger than
/// `maxBytes`, passes untouched.
public struct ConditionalGETMiddleware<Context: ServiceRequestContext>: RouterMiddleware {
    let cacheControl: CacheControl
    let maxBytes: Int

    /// ETags for bodies up to `maxBytes`, sent with `cacheControl` unless the route set its own.
    public init(cacheControl: CacheControl = .revalidate, maxBytes: Int = 1 << 20) {
        self.cacheControl = cacheControl
        self.maxBytes = maxBytes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        guard request.method == .get || request.method == .head, response.status == .ok, response.headers[.eTag] == nil,
            let length = response.body.contentLength, length <= maxBytes
        else { return response }
        let collector = BodyCollector()
        try await response.body.write(collector)
        let etag = EntityTag(hashing: collector.buffer.readableBytesView)
        response.headers[.eTag] = etag.description
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = cacheControl.description }
        if etag.matches(ifNoneMatch: request.headers[.ifNoneMatch]) {
            response.status = .notModified
            response.headers[.contentLength] = nil
            response.headers[.contentType] = nil
            response.body = ResponseBody()
        } else {
            response.body = ResponseBody(byteBuffer: collector.buffer)
        }
        return response
    }
}

/// Collects a response body that is already in memory.
final class BodyCollector: ResponseBodyWriter {
    var buffer = ByteBuffer()

    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        self.buffer.writeBuffer(&buffer)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
