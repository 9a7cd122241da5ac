import Hummingbird
import Logging
import Synchronization

/// Records every request once its response is complete: the duration histogram (labelled by
/// route template) and the access log line (`msg: "request"`, with status and duration_ms).
///
/// A body already in memory (a typed route's answer, a rendered error) is complete when the
/// response is returned, and is recorded then. Any other body (a stream, a file, a proxied peer
/// answer) is recorded once its last byte has been written. Only those are wrapped: a wrapped
/// body makes Hummingbird write head, body and end as three flushes and system calls instead of
/// one, which cost a fifth of the throughput of a small JSON answer.
public struct ObservabilityMiddleware: RouterMiddleware {
    public typealias Context = FleetContext
    let metrics: ServiceMetrics
    let accessLog: Bool

    /// Records into `metrics`; writes the access log unless `accessLog` is false.
    public init(metrics: ServiceMetrics, accessLog: Bool = true) {
        self.metrics = metrics
        self.accessLog = accessLog
    }

    public func handle(_ request: Request, context: FleetContext, next: (Request, FleetContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        metrics.requestStarted()
        let inMemory = InMemoryBodyMark()
        var inner = context
        inner.inMemoryBody = inMemory
        let response: Response
        do {
            response = try await next(request, inner)
        } catch {
            // Only errors the error middleware could not render get here; count them and pass on.
            finish(request, context: context, status: 500, start: start)
            throw error
        }
        let status = Int(response.status.code)
        if inMemory.isSet {
            finish(request, context: context, status: status, start: start)
            return response
        }
        var written = response
        written.body = response.body.afterWrite { [self] in
            finish(request, context: context, status: status, start: start)
        }
        return written
    }

    private func finish(_ request: Request, context: FleetContext, status: Int, start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        metrics.requestFinished()
        let route = context.endpointPath ?? ErrorMiddleware.unmatchedRoute
        metrics.recordRequest(route: route, method: request.method, status: status, duration: elapsed)
        guard accessLog else { return }
        let milliseconds = (elapsed.seconds * 1_000_000).rounded() / 1000
        if let handler = context.logger.handler as? JSONLogHandler {
            // The same line as below, written without building `Logger.Metadata` for it.
            handler.logRequest(route: route, path: request.uri.path, status: status, milliseconds: milliseconds)
            return
        }
        context.logger.info(
            "request",
            metadata: [
                "route": .string(route),
                "path": .string(request.uri.path),
                "status": .stringConvertible(JSONNumber(status)),
                "duration_ms": .stringConvertible(JSONNumber(milliseconds)),
            ]
        )
    }
}

/// Set by the layers that answer with a body already in memory (typed route outputs, rendered
/// errors), so `ObservabilityMiddleware` records the request as soon as the response is returned
/// instead of wrapping its body. One per request, shared by the copies of its context.
@usableFromInline
final class InMemoryBodyMark: Sendable {
    private let value = Atomic<Bool>(false)

    init() {}

    /// The response being returned has its whole body in memory.
    @usableFromInline
    func set() { value.store(true, ordering: .relaxed) }

    /// Whether a layer below marked the response as in memory.
    var isSet: Bool { value.load(ordering: .relaxed) }
}

extension ResponseBody {
    /// The same body, calling `done` once it has been written to the connection (or failed to be).
    func afterWrite(_ done: @escaping @Sendable () -> Void) -> ResponseBody {
        let body = self
        return ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(writer)
                done()
            } catch {
                done()
                throw error
            }
        }
    }
}
