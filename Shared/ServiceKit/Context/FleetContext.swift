import Foundation
import Hummingbird
import NIOCore
import W3CTraceContext

/// Per-request state every ServiceKit route sees: the request id, the W3C trace position and the
/// body limits in force. Filled by `RequestIdentityMiddleware` before any handler runs.
public struct FleetContext: ServiceRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String = ""
    public var trace: TraceContext?
    public var parentSpanID: SpanID?
    public var limits = RequestLimits()
    public var recording = ResponseRecording()
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

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.connection = source.channel
    }

    /// Hummingbird's own decoders collect bodies up to this size.
    public var maxUploadSize: Int { limits.maxBodyBytes }
}
