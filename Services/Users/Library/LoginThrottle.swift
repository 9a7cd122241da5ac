import Synchronization

/// Slows password guessing at `/token`: after `maxFailures` failed logins for one username, or
/// from one client address, within `window`, that username or client is refused with 429 until
/// the window has passed since its first counted failure. A success clears the username's count.
///
/// Memory is bounded: at most `capacity` keys are tracked; expired ones go first, then the
/// oldest, so a flood of made-up usernames evicts itself instead of growing the process.
final class LoginThrottle: Sendable {
    let maxFailures: Int
    let window: Duration
    let capacity: Int
    private let state = Mutex<[String: Entry]>([:])

    struct Entry {
        var failures: Int
        var since: ContinuousClock.Instant
    }

    init(maxFailures: Int, window: Duration, capacity: Int = 10_000) {
        self.maxFailures = maxFailures
        self.window = window
        self.capacity = capacity
    }

    /// How long `keys` must still wait, or nil when none of them is locked out.
    func retryAfter(_ keys: [String], now: ContinuousClock.Instant = .now) -> Duration? {
        state.withLock { entries in
            var longest: Duration?
            for key in keys {
                guard let entry = entries[key] else { continue }
                let left = entry.since + window - now
                if left <= .zero {
                    entries[key] = nil
                } else if entry.failures >= maxFailures {
                    longest = max(longest ?? .zero, left)
                }
            }
            return longest
        }
    }

    /// Counts a failed login against each of `keys`.
    func recordFailure(_ keys: [String], now: ContinuousClock.Instant = .now) {
        state.withLock { entries in
            for key in keys {
                if var entry = entries[key], now - entry.since < window {
                    entry.failures += 1
                    entries[key] = entry
                } else {
                    if entries.count >= capacity { Self.evict(&entries, now: now, window: window) }
                    entries[key] = Entry(failures: 1, since: now)
                }
            }
        }
    }

    /// Forgets `key`'s failures (a successful login).
    func clear(_ key: String) {
        _ = state.withLock { $0.removeValue(forKey: key) }
    }

    /// How many keys are tracked.
    var trackedKeys: Int { state.withLock { $0.count } }

    private static func evict(_ entries: inout [String: Entry], now: ContinuousClock.Instant, window: Duration) {
        entries = entries.filter { now - $0.value.since < window }
        if entries.count >= 1, let oldest = entries.min(by: { $0.value.since < $1.value.since }) {
            entries[oldest.key] = nil
        }
    }
}
