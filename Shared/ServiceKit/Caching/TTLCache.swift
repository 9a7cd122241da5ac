import Prometheus
import Synchronization

/// An in-memory cache of computed values for `ttl`, at most `capacity` entries, with Prometheus
/// figures (`cache_hits_total`, `cache_misses_total`, `cache_evictions_total`, `cache_entries`,
/// labelled `cache=<name>`). Give it to routes with `api.provide(cache)` and take it with
/// `Depends<TTLCache<Key, Value>>`; one per kind of value.
///
/// Concurrent misses of one key share one computation, so a popular entry that expires costs one
/// call to the database or peer, not one per waiting request. A computation that throws caches
/// nothing. When full, expired entries go first, then the least recently used tenth.
public final class TTLCache<Key: Hashable & Sendable, Value: Sendable>: Injectable, Sendable {
    private struct Entry {
        var value: Value
        var expires: ContinuousClock.Instant
        var used: ContinuousClock.Instant
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var pending: [Key: Task<Value, any Error>] = [:]
    }

    /// How long a value is served after it was computed.
    public let ttl: Duration
    /// The most entries held.
    public let capacity: Int
    private let state = Mutex(State())
    private let hits: Counter
    private let misses: Counter
    private let evictions: Counter
    private let size: Gauge

    /// A cache named `name` in the metrics of `registry`.
    public init(name: String, ttl: Duration, capacity: Int, registry: PrometheusCollectorRegistry) {
        self.ttl = ttl
        self.capacity = max(1, capacity)
        let labels = [("cache", name)]
        hits = registry.makeCounter(descriptor: .named("cache_hits_total", "Lookups answered from an in-memory cache."), labels: labels)
        misses = registry.makeCounter(descriptor: .named("cache_misses_total", "Lookups an in-memory cache had to compute."), labels: labels)
        evictions = registry.makeCounter(descriptor: .named("cache_evictions_total", "Entries dropped from an in-memory cache to stay within its capacity."), labels: labels)
        size = registry.makeGauge(descriptor: .named("cache_entries", "Entries held by an in-memory cache."), labels: labels)
    }

    /// The cached value of `key`, or `compute()`'s, kept for `ttl`.
    public func value(for key: Key, compute: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let now = ContinuousClock.now
        let lookup: Lookup = state.withLock { state in
            if var entry = state.entries[key], entry.expires > now {
                entry.used = now
                state.entries[key] = entry
                return .hit(entry.value)
            }
            if let pending = state.pending[key] { return .wait(pending) }
            let task = Task { try await compute() }
            state.pending[key] = task
            return .compute(task)
        }
        switch lookup {
        case .hit(let value):
            hits.increment()
            return value
        case .wait(let task):
            hits.increment()
            return try await task.value
        case .compute(let task):
            misses.increment()
            let result = await task.result
            let (count, evicted) = state.withLock { state -> (Int, Int) in
                state.pending[key] = nil
                guard case .success(let value) = result else { return (state.entries.count, 0) }
                let now = ContinuousClock.now
                var evicted = 0
                if state.entries[key] == nil, state.entries.count >= capacity { evicted = Self.evict(&state.entries, now: now, capacity: capacity) }
                state.entries[key] = Entry(value: value, expires: now + ttl, used: now)
                return (state.entries.count, evicted)
            }
            if evicted > 0 { evictions.increment(by: Int64(evicted)) }
            size.set(Int64(count))
            return try result.get()
        }
    }

    private enum Lookup {
        case hit(Value)
        case wait(Task<Value, any Error>)
        case compute(Task<Value, any Error>)
    }

    /// Forgets `key` (after a write that changes it).
    public func invalidate(_ key: Key) {
        let count = state.withLock { state in
            state.entries[key] = nil
            return state.entries.count
        }
        size.set(Int64(count))
    }

    /// How many entries are held, expired ones included until they are evicted.
    public var count: Int { state.withLock { $0.entries.count } }

    private static func evict(_ entries: inout [Key: Entry], now: ContinuousClock.Instant, capacity: Int) -> Int {
        let before = entries.count
        entries = entries.filter { $0.value.expires > now }
        if entries.count >= capacity {
            for (key, _) in entries.sorted(by: { $0.value.used < $1.value.used }).prefix(max(1, capacity / 10)) {
                entries.removeValue(forKey: key)
            }
        }
        return before - entries.count
    }
}
