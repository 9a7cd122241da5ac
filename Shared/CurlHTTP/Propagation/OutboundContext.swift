import W3CTraceContext

/// What a server hands on to the calls its handler makes: the trace, the request id and the
/// time left in the request's budget. ServiceKit binds it for each request; the client reads it.
public struct OutboundContext: Sendable {
    /// The trace of the incoming request, with the server's span as the parent of outgoing calls.
    public var trace: TraceContext?
    /// The incoming `X-Request-ID`, forwarded unchanged.
    public var requestID: String?
    /// When the incoming request's budget runs out; outgoing calls never run past it.
    public var deadline: ContinuousClock.Instant?

    /// A context to bind with `OutboundContext.$current.withValue(_:operation:)`.
    public init(trace: TraceContext? = nil, requestID: String? = nil, deadline: ContinuousClock.Instant? = nil) {
        self.trace = trace
        self.requestID = requestID
        self.deadline = deadline
    }

    /// The context of the request being handled by the current task, if any.
    @TaskLocal public static var current: OutboundContext?
}
