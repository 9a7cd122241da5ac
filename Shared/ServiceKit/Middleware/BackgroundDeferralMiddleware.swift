import Hummingbird

/// Holds the background tasks a handler submits until its response's last byte has been written,
/// then queues them; drops them when the handler throws. Only responses with tasks pay for it:
/// their body is wrapped to learn when it is written.
public struct BackgroundDeferralMiddleware<Context: RequestContext>: RouterMiddleware {
    let tasks: BackgroundTasks

    /// Defers tasks submitted to `tasks` during a request.
    public init(tasks: BackgroundTasks) {
        self.tasks = tasks
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let deferred = BackgroundTasks.Deferred()
        let response: Response
        do {
            response = try await BackgroundTasks.$deferred.withValue(deferred) {
                try await next(request, context)
            }
        } catch {
            _ = deferred.take()  // dropped, as FastAPI drops a failed handler's tasks
            throw error
        }
        if deferred.isEmpty {
            _ = deferred.take()  // later submissions are queued at once
            return response
        }
        let tasks = self.tasks
        var written = response
        written.body = response.body.afterWrite {
            for job in deferred.take() { _ = tasks.enqueue(job) }
        }
        return written
    }
}
