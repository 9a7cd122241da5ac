import Foundation
import Hummingbird
import NIOCore
import W3CTraceContext

/// Per-request state every ServiceKit route sees: the request id, the W3C trace position and the
/// body limits in force. Filled by `RequestIdentityMiddleware` before any handler runs.
public struct FleetContext: ServiceRequestContext {
    /// Hummingbird's own per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The `X-Request-ID` received, or the one generated for this request.
    public var requestID: String = ""
    /// The trace this request belongs to, with this server's span as `spanID`.
    public var trace: TraceContext?
    /// The span of the caller, when a `traceparent` came in.
    public var parentSpanID: SpanID?
    /// The body limits in force, copied from the configuration by `RequestIdentityMiddleware`.
    public var limits = RequestLimits()
    /// Marked by whoever answers with a body in memory (see `ResponseRecording`).
    public var recording = ResponseRecording()
    /// The connection the request came on; a 413 ends it.
    public let connection: (any Channel)?

    /// The largest JSON or form body accepted.
    public var maxBodyBytes: Int { limits.maxBodyBytes }
    /// The largest multipart upload accepted.
    public var maxUploadBytes: Int { limits.maxUploadBytes }
    /// Uploaded files larger than this are streamed to a temporary file instead of kept in memory.
    public var uploadSpoolBytes: Int { limits.uploadSpoolBytes }
    /// Where spooled uploads are written.
    public var uploadDirectory: String { FleetContext.temporaryUploads }

    static let temporaryUploads = NSTemporaryDirectory() + "/fleet-uploads"

    /// A context for a request that arrived through `source`.
    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.connection = source.channel
    }

    /// Hummingbird's own decoders collect bodies up to this size.
    public var maxUploadSize: Int { limits.maxBodyBytes }
}
