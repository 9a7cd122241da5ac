import Hummingbird
import NIOCore
import NIOPosix
import Synchronization

/// Answers 504 when a handler runs longer than `REQUEST_TIMEOUT`, cancelling it.
///
/// The handler runs in one task of its own, which this middleware awaits (and cancels when the
/// request is cancelled), and the deadline is a timer on an event loop that is cancelled as soon
/// as the handler returns. The first version raced the handler against a second task sleeping
/// `REQUEST_TIMEOUT`: a cancelled `Task.sleep` leaves its timer queued until the deadline, so
/// each request left a 30 s timer behind, which doubled the CPU time of a small request and grew
/// the memory of a loaded service (`make bench`, Benchmarks/NOTES.md).
public struct RequestTimeoutMiddleware<Context: RequestContext>: RouterMiddleware {
    let timeout: Duration
    let loops: any EventLoopGroup

    /// Handlers get at most `timeout`; the deadline is kept on one of `loops`.
    public init(timeout: Duration, loops: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.timeout = timeout
        self.loops = loops
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let timedOut = Atomic<Bool>(false)
        return try await withoutActuallyEscaping(next) { next in
            // `next` does not outlive this call: the handler's task is awaited below in every case.
            let call = UncheckedSendable(next)
            let handler = Task { try await call.value(request, context) }
            let deadline = loops.next().scheduleTask(in: .nanoseconds(Int64(timeout.seconds * 1e9))) {
                timedOut.store(true, ordering: .relaxed)
                handler.cancel()
            }
            let result = await withTaskCancellationHandler {
                await handler.result
            } onCancel: {
                handler.cancel()
            }
            deadline.cancel()
            if timedOut.load(ordering: .relaxed) {
                throw HTTPProblem(.gatewayTimeout, detail: "Request timed out")
            }
            return try result.get()
        }
    }
}

/// Carries a value the compiler cannot prove Sendable across a boundary we know is safe.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
