import Synchronization

/// Caps retries at a share of recent requests, so a struggling peer is not hit by a retry storm:
/// each request deposits `ratio` tokens, each retry withdraws one; `minimumPerSecond` retries
/// are always allowed so a quiet client can still retry.
public struct RetryBudgetPolicy: Sendable {
    /// Retries allowed per request sent, e.g. 0.2 for one retry per five requests.
    public var ratio: Double
    /// Retries allowed per second whatever the traffic.
    public var minimumPerSecond: Double

    /// 20% of requests, and at least 10 retries a second.
    public init(ratio: Double = 0.2, minimumPerSecond: Double = 10) {
        self.ratio = ratio
        self.minimumPerSecond = minimumPerSecond
    }
}

/// The token bucket behind `RetryBudgetPolicy`, shared by every request of one client.
final class RetryBudget: Sendable {
    private struct State {
        var tokens: Double
        var lastRefill: ContinuousClock.Instant
    }

    private let policy: RetryBudgetPolicy
    private let state: Mutex<State>
    /// Enough for a burst of retries after a quiet second, and no more.
    private var capacity: Double { max(policy.minimumPerSecond, 1) * 10 }

    init(policy: RetryBudgetPolicy) {
        self.policy = policy
        self.state = Mutex(State(tokens: max(policy.minimumPerSecond, 1), lastRefill: .now))
    }

    /// Called for every first attempt.
    func deposit() {
        state.withLock { $0.tokens = min(capacity, $0.tokens + policy.ratio) }
    }

    /// Takes one token for a retry; false when the budget is spent.
    func withdraw(now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { state in
            let elapsed = now - state.lastRefill
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            state.tokens = min(capacity, state.tokens + seconds * policy.minimumPerSecond)
            state.lastRefill = now
            guard state.tokens >= 1 else { return false }
            state.tokens -= 1
            return true
        }
    }
}
