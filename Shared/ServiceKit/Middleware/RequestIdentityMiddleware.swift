import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization
import W3CTraceContext

/// Gives each request its identity: `X-Request-ID` (accepted or generated, echoed on the response)
/// and its place in a W3C trace (`traceparent`/`tracestate` read, a new span id for this server).
/// Both go into the request's logger metadata (one value, see `RequestLogFields`), so every log
/// line inside the request carries them.
public struct RequestIdentityMiddleware<Context: ServiceRequestContext>: RouterMiddleware {
    let limits: RequestLimits
    let requestTimeout: Duration?

    /// The body limits and the upload spool threshold are copied into every request's context;
    /// `requestTimeout` becomes the deadline that outgoing peer calls inherit.
    public init(maxBodyBytes: Int, maxUploadBytes: Int, uploadSpoolBytes: Int = 1 << 20, requestTimeout: Duration? = nil) {
        self.limits = RequestLimits(maxBodyBytes: maxBodyBytes, maxUploadBytes: maxUploadBytes, uploadSpoolBytes: uploadSpoolBytes)
        self.requestTimeout = requestTimeout
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.limits = limits
        let trace: TraceContext
        if let parent = request.headers[.traceparent],
            let incoming = try? TraceContext(traceParentHeaderValue: parent, traceStateHeaderValue: request.headers[.tracestate])
        {
            context.parentSpanID = incoming.spanID
            var ids = RequestIDGenerator()
            trace = TraceContext(traceID: incoming.traceID, spanID: .random(using: &ids), flags: incoming.flags, state: incoming.state)
        } else {
            var ids = RequestIDGenerator()
            trace = TraceContext(traceID: .random(using: &ids), spanID: .random(using: &ids), flags: .sampled, state: Self.emptyState)
        }
        context.trace = trace
        // A generated id reuses the trace id: unique, and one less random draw per request.
        let traceID = trace.traceID.description
        let requestID = request.headers[.requestID].flatMap(Self.acceptable) ?? traceID
        context.requestID = requestID
        // One metadata value that the JSON handler writes as request_id, trace_id, span_id, method
        // and route.
        context.logger[metadataKey: RequestLogFields.key] = .stringConvertible(RequestLogFields(
            requestID: requestID, traceID: traceID, spanID: trace.spanID.description,
            method: request.method.rawValue, route: context.endpointPath))
        // Peer calls made while handling this request continue its trace and carry its id and budget.
        let outbound = OutboundContext(trace: trace, requestID: requestID, deadline: requestTimeout.map { .now + $0 })
        var response = try await OutboundContext.$current.withValue(outbound) {
            try await next(request, context)
        }
        response.headers[.requestID] = requestID
        return response
    }

    private static var emptyState: TraceState { TraceState([]) }

    /// Accepts a caller's id when it is short and printable, so it cannot forge log lines.
    static func acceptable(_ value: String) -> String? {
        guard !value.isEmpty, value.utf8.count <= 128,
            value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
        else { return nil }
        return value
    }
}

// W3C `traceparent` and `tracestate` are swift-http-types' own `HTTPField.Name` constants.
extension HTTPField.Name {
    /// `X-Request-ID`, accepted, generated, echoed and forwarded.
    public static let requestID = HTTPField.Name("X-Request-ID")!
}
