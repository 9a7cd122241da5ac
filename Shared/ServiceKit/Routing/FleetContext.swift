import Foundation
import Hummingbird
import W3CTraceContext

/// Per-request state every ServiceKit route sees: the request id, the W3C trace position and the
/// body limits in force. Filled by `RequestIdentityMiddleware` before any handler runs.
public struct FleetContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The `X-Request-ID` received, or the one generated for this request.
    public var requestID: String = ""
    /// The trace this request belongs to, with this server's span as `spanID`.
    public var trace: TraceContext?
    /// The span of the caller, when a `traceparent` came in.
    public var parentSpanID: SpanID?
    /// The largest JSON or form body accepted.
    public var maxBodyBytes: Int = 1 << 20
    /// The largest multipart upload accepted.
    public var maxUploadBytes: Int = 10 << 20
    /// Uploaded files larger than this are streamed to a temporary file instead of kept in memory
    /// (`UPLOAD_SPOOL_BYTES`).
    public var uploadSpoolBytes: Int = 1 << 20
    /// Set by `ObservabilityMiddleware`; marked by whoever answers with a body in memory.
    @usableFromInline var inMemoryBody: InMemoryBodyMark?
    /// Where spooled uploads are written.
    public var uploadDirectory: String { FleetContext.temporaryUploads }

    static let temporaryUploads = NSTemporaryDirectory() + "/fleet-uploads"

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }

    /// Hummingbird's own decoders collect bodies up to this size.
    public var maxUploadSize: Int { maxBodyBytes }
}
