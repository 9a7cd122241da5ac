import Hummingbird
import Logging

/// Records every request once its response has been written: the duration histogram (labelled by
/// route template) and the access log line (`msg: "request"`, with status and duration_ms).
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
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Only errors the error middleware could not render get here; count them and pass on.
            finish(request, context: context, status: 500, start: start)
            throw error
        }
        var written = response
        let status = Int(response.status.code)
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
        context.logger.info(
            "request",
            metadata: [
                "route": .string(route),
                "path": .string(request.uri.path),
                "status": .stringConvertible(JSONNumber(status)),
                "duration_ms": .stringConvertible(JSONNumber((elapsed.seconds * 1_000_000).rounded() / 1000)),
            ]
        )
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
