import Hummingbird

/// Answers 504 when a handler runs longer than `REQUEST_TIMEOUT`, cancelling it.
public struct RequestTimeoutMiddleware<Context: RequestContext>: RouterMiddleware {
    let timeout: Duration

    /// Handlers get at most `timeout`.
    public init(timeout: Duration) {
        self.timeout = timeout
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let timeout = self.timeout
        return try await withoutActuallyEscaping(next) { next in
            // `next` does not outlive this call: the group below waits for both children.
            let call = UncheckedSendable(next)
            return try await withThrowingTaskGroup(of: Response.self) { group in
                group.addTask { try await call.value(request, context) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw HTTPProblem(.gatewayTimeout, detail: "Request timed out")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        }
    }
}

/// Carries a value the compiler cannot prove Sendable across a boundary we know is safe.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
