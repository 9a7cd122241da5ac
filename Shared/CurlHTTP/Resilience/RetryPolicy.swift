/// When and how long to wait before sending a failed idempotent request again.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included; 1 turns retries off.
    public var maxAttempts: Int
    /// The backoff cap of the first retry; each retry doubles it, up to `maxBackoff`.
    public var baseBackoff: Duration
    /// The largest backoff cap.
    public var maxBackoff: Duration
    /// Statuses that mean "try again": the peer or a proxy in front of it is briefly unavailable.
    public var retryableStatuses: Set<Int>

    /// Three attempts, 50 ms doubling up to 1 s, on 502, 503 and 504.
    public init(maxAttempts: Int = 3, baseBackoff: Duration = .milliseconds(50), maxBackoff: Duration = .seconds(1), retryableStatuses: Set<Int> = [502, 503, 504]) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
        self.retryableStatuses = retryableStatuses
    }

    /// No retries at all.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Exponential backoff with full jitter: a uniform draw in [0, min(max, base · 2^retry)],
    /// which spreads the retries of many clients instead of synchronising them.
    func backoff(beforeRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let base = Double(baseBackoff.components.seconds) + Double(baseBackoff.components.attoseconds) / 1e18
        let cap = Double(maxBackoff.components.seconds) + Double(maxBackoff.components.attoseconds) / 1e18
        let ceiling = min(cap, base * Double(1 << min(retry, 30)))
        guard ceiling > 0 else { return .zero }
        return .nanoseconds(Int64(Double.random(in: 0...ceiling, using: &generator) * 1e9))
    }
}
