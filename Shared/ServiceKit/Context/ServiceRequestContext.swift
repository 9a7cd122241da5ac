import Hummingbird
import NIOCore
import Synchronization
import W3CTraceContext

/// What ServiceKit's middleware need from a request context. `FleetContext` is ServiceKit's own;
/// a service with a context of its own conforms it and gets the same middleware, as Hummingbird's
/// `MetricsMiddleware<Context>` works over any `RequestContext`.
public protocol ServiceRequestContext: RequestContext {
    /// The `X-Request-ID` received, or the one generated for this request.
    var requestID: String { get set }
    /// The trace this request belongs to, with this server's span as `spanID`.
    var trace: TraceContext? { get set }
    /// The span of the caller, when a `traceparent` came in.
    var parentSpanID: SpanID? { get set }
    /// The body limits and upload spool threshold in force for this request.
    var limits: RequestLimits { get set }
    /// How the response is recorded: whoever answers with a body in memory says so here.
    var recording: ResponseRecording { get set }
    /// The connection the request came on, when served by a real server (nil in router tests):
    /// an exchange that must end (413) closes its input.
    var connection: (any Channel)? { get }
}

/// The body limits of one request, copied from the configuration by `RequestIdentityMiddleware`.
public struct RequestLimits: Sendable, Equatable {
    /// The largest JSON or form body accepted (`MAX_BODY_BYTES`).
    public var maxBodyBytes: Int
    /// The largest multipart upload accepted (`MAX_UPLOAD_BYTES`).
    public var maxUploadBytes: Int
    /// Uploaded files larger than this are streamed to a temporary file (`UPLOAD_SPOOL_BYTES`).
    public var uploadSpoolBytes: Int

    /// Limits in bytes.
    public init(maxBodyBytes: Int = 1 << 20, maxUploadBytes: Int = 10 << 20, uploadSpoolBytes: Int = 1 << 20) {
        self.maxBodyBytes = maxBodyBytes
        self.maxUploadBytes = maxUploadBytes
        self.uploadSpoolBytes = uploadSpoolBytes
    }
}

/// Shared by the copies of one request's context: the layer that answers with a body already in
/// memory (a typed route's output, a rendered error) marks it, so the recording middleware records
/// the request when the response is returned instead of wrapping its body (a wrapped body makes
/// Hummingbird write head, body and end as three flushes instead of one).
public final class ResponseRecording: Sendable {
    private let inMemory = Atomic<Bool>(false)

    /// A new, unmarked record.
    public init() {}

    /// The response being returned has its whole body in memory.
    @inlinable
    public func markBodyInMemory() { storeInMemory() }

    @usableFromInline
    func storeInMemory() { inMemory.store(true, ordering: .relaxed) }

    /// Whether a layer below marked the response as in memory.
    public var bodyIsInMemory: Bool { inMemory.load(ordering: .relaxed) }
}

/// The route name recorded for requests that match no route (Hummingbird's not-found responder).
public enum UnmatchedRoute {
    /// `NotFound`, as in metrics and access lines.
    public static let name = "NotFound"
}
