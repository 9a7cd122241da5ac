import Hummingbird
import Logging

/// Records every request once its response is complete: the duration histogram (labelled by
/// route template) and the access log line (`msg: "request"`, with status and duration_ms).
///
/// A body already in memory (a typed route's answer, a rendered error) is complete when the
/// response is returned, and is recorded then: the layer that built it marks the request's
/// `ResponseRecording`. Any other body (a stream, a file, a proxied peer answer) is recorded once
/// its last byte has been written. Only those are wrapped: a wrapped body makes Hummingbird write
/// head, body and end as three flushes and system calls instead of one, which cost a fifth of the
/// throughput of a small JSON answer.
public struct ObservabilityMiddleware<Context: ServiceRequestContext>: RouterMiddleware {
    let metrics: ServiceMetrics
    let accessLog: Bool

    /// Records into `metrics`; writes the access log unless `accessLog` is false.
    public init(metrics: ServiceMetrics, accessLog: Bool = true) {
        self.metrics = metrics
        self.accessLog = accessLog
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        metrics.requestStarted()
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Only errors the error middleware could not render get here; count them and pass on.
            finish(request, context: context, status: 500, start: start)
            throw error
        }
        let status = Int(response.status.code)
        if context.recording.bodyIsInMemory {
            finish(request, context: context, status: status, start: start)
            return response
        }
        var written = response
        written.body = response.body.afterWrite { [self] in
            finish(request, context: context, status: status, start: start)
        }
        return written
    }

    private func finish(_ request: Request, context: Context, status: Int, start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        metrics.requestFinished()
        let route = context.endpointPath ?? UnmatchedRoute.name
        metrics.recordRequest(route: route, method: request.method, status: status, duration: elapsed)
        guard accessLog else { return }
        let milliseconds = (elapsed.seconds * 1_000_000).rounded() / 1000
        // One metadata value, written by the JSON handler as route, path, status and duration_ms.
        context.logger.info("request", metadata: [
            AccessLogFields.key: .stringConvertible(AccessLogFields(
                route: route, path: request.uri.path, status: status, milliseconds: milliseconds)),
        ])
    }
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
