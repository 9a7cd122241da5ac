import Foundation
import Hummingbird
import Synchronization

/// A token bucket over the whole API port (`RATE_LIMIT_RPS`, `RATE_LIMIT_BURST`): past it, 429
/// with `Retry-After`. One bucket per instance, since replicas sit behind a load balancer.
public struct RateLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    private let bucket: TokenBucket

    /// A bucket of `burst` tokens refilled at `requestsPerSecond`.
    public init(requestsPerSecond: Double, burst: Int) {
        bucket = TokenBucket(rate: requestsPerSecond, capacity: Double(burst))
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let wait = bucket.take() {
            let seconds = max(1, Int(wait.rounded(.up)))
            throw HTTPProblem(.tooManyRequests, detail: "Too Many Requests", headers: [.retryAfter: String(seconds)])
        }
        return try await next(request, context)
    }
}

/// Tokens refill continuously at `rate` per second up to `capacity`.
final class TokenBucket: Sendable {
    private struct State {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let rate: Double
    private let capacity: Double
    private let state: Mutex<State>

    init(rate: Double, capacity: Double) {
        self.rate = rate
        self.capacity = capacity
        self.state = Mutex(State(tokens: capacity, updated: .now))
    }

    /// Takes a token; nil when one was available, else the seconds until the next one.
    func take() -> Double? {
        state.withLock { state in
            let now = ContinuousClock.now
            state.tokens = min(capacity, state.tokens + (now - state.updated).seconds * rate)
            state.updated = now
            if state.tokens >= 1 {
                state.tokens -= 1
                return nil
            }
            return (1 - state.tokens) / rate
        }
    }
}
