import Foundation
import HTTPTypes
import Hummingbird
import Prometheus
import Synchronization

/// Per-client token buckets (`RATE_LIMIT_RPS`, `RATE_LIMIT_BURST`, and per route
/// `RATE_LIMIT_ROUTES`): past its bucket a client gets 429 with `Retry-After`; every answer of a
/// limited route carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.
///
/// A client is the subject its bearer token names, else its address (`X-Forwarded-For` from a
/// `TRUSTED_PROXIES` peer, so the clients behind the gateway are told apart). The subject is read
/// without checking the signature, which the route does: a forged token only picks a bucket, and
/// its 401 is charged to a bucket of the address's refused tokens, whose emptying then refuses
/// every token from that address.
/// The buckets are bounded (`RATE_LIMIT_CLIENTS`), so a flood of addresses cannot grow the process.
public struct RateLimitMiddleware<Context: ServiceRequestContext>: RouterMiddleware {
    let rules: RateLimitRules
    let buckets: ClientBuckets
    let trustedProxies: TrustedProxies
    let limited: Counter?

    /// Buckets for `rules`, at most `maxClients` of them; `registry` gets the metrics
    /// `rate_limited_requests_total` and `rate_limit_clients`.
    public init(rules: RateLimitRules, maxClients: Int = 10_000, trustedProxies: TrustedProxies = .loopback, registry: PrometheusCollectorRegistry? = nil) {
        self.rules = rules
        self.buckets = ClientBuckets(capacity: maxClients, gauge: registry?.makeGauge(descriptor: .named("rate_limit_clients", "Clients with a rate-limit bucket held in memory.")))
        self.trustedProxies = trustedProxies
        self.limited = registry?.makeCounter(descriptor: .named("rate_limited_requests_total", "Requests refused with 429 by the rate limit."))
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let (index, limit) = rules.rule(for: request.method, path: request.uri.path) else {
            return try await next(request, context)
        }
        let address = ClientAddress.of(request, connection: context.connection, trusting: trustedProxies)
        let subject = BearerSubject.claimed(by: request.headers[.authorization])
        let now = ContinuousClock.now
        // The address's refused tokens have a bucket of their own, apart from its anonymous
        // requests: logins from one NAT do not hold back the tokens it then uses.
        let refused = ClientBuckets.Key(rule: index, client: "refused:" + address)
        if subject != nil, let blocked = buckets.peek(refused, limit: limit, now: now) {
            throw refusal(limit, blocked)
        }
        let key = ClientBuckets.Key(rule: index, client: subject.map { "sub:" + $0 } ?? address)
        let state = buckets.take(key, limit: limit, now: now)
        if let wait = state.wait { throw refusal(limit, .init(remaining: 0, wait: wait, reset: state.reset)) }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let problem as HTTPProblem where problem.status == .unauthorized && subject != nil {
            _ = buckets.take(refused, limit: limit, now: now)
            throw problem
        }
        if response.status == .unauthorized, subject != nil {
            _ = buckets.take(refused, limit: limit, now: now)
        }
        response.headers[.rateLimitLimit] = String(limit.burst)
        response.headers[.rateLimitRemaining] = String(state.remaining)
        response.headers[.rateLimitReset] = String(state.reset)
        return response
    }

    private func refusal(_ limit: ServiceConfiguration.RateLimit, _ state: ClientBuckets.State) -> HTTPProblem {
        limited?.increment()
        let seconds = max(1, Int(state.wait!.rounded(.up)))
        return HTTPProblem(.tooManyRequests, detail: "Too Many Requests", headers: [
            .retryAfter: String(seconds), .rateLimitLimit: String(limit.burst), .rateLimitRemaining: "0", .rateLimitReset: String(state.reset),
        ])
    }
}

/// Which limit applies to a request: the first route rule whose method and path template match,
/// else the default (none: the request is not limited).
public struct RateLimitRules: Sendable, Equatable {
    /// One route's own limit, `POST /token=0.2:5` in `RATE_LIMIT_ROUTES`.
    public struct Route: Sendable, Equatable {
        /// The method it applies to (a GET's also covers HEAD).
        public var method: HTTPRequest.Method
        /// A route template: `{name}` matches one path segment.
        public var path: String
        /// Its rate and burst.
        public var limit: ServiceConfiguration.RateLimit

        /// A route's own limit.
        public init(method: HTTPRequest.Method, path: String, limit: ServiceConfiguration.RateLimit) {
            self.method = method
            self.path = path
            self.limit = limit
        }
    }

    /// The limit of every route without its own; nil: only the listed routes are limited.
    public var `default`: ServiceConfiguration.RateLimit?
    /// The routes with limits of their own, the first match applying.
    public var routes: [Route]

    /// The default limit and the routes' own.
    public init(default: ServiceConfiguration.RateLimit? = nil, routes: [Route] = []) {
        self.default = `default`
        self.routes = routes
    }

    /// Whether any request is limited at all.
    public var isEmpty: Bool { `default` == nil && routes.isEmpty }

    /// The rule's index (the routes', then the default's) and its limit.
    func rule(for method: HTTPRequest.Method, path: String) -> (Int, ServiceConfiguration.RateLimit)? {
        if !routes.isEmpty {
            let segments = path.split(separator: "/")
            for (index, route) in routes.enumerated()
            where (route.method == method || (method == .head && route.method == .get)) && RouteTable.matches(template: route.path, segments) {
                return (index, route.limit)
            }
        }
        return `default`.map { (routes.count, $0) }
    }

    /// Parses `RATE_LIMIT_ROUTES`: comma-separated `METHOD /path=RPS[:BURST]`, e.g.
    /// `POST /token=0.2:5, POST /orders=20:40`. The burst defaults to the rate rounded up.
    public static func parseRoutes(_ text: String) throws -> [Route] {
        try text.split(separator: ",").map { entry in
            let entry = entry.trimmingCharacters(in: .whitespaces)
            guard let equals = entry.lastIndex(of: "=") else { throw RateLimitRuleError(entry: entry, reason: "expected METHOD /path=RPS[:BURST]") }
            let route = entry[..<equals].split(separator: " ", omittingEmptySubsequences: true)
            guard route.count == 2, let method = HTTPRequest.Method(String(route[0]).uppercased()), route[1].hasPrefix("/") else {
                throw RateLimitRuleError(entry: entry, reason: "expected a method and a path starting with /")
            }
            let figures = entry[entry.index(after: equals)...].split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(figures.count), let rate = Double(figures[0]), rate > 0, rate.isFinite else {
                throw RateLimitRuleError(entry: entry, reason: "expected a positive rate per second")
            }
            var burst = max(1, Int(rate.rounded(.up)))
            if figures.count == 2 {
                guard let value = Int(figures[1]), value > 0 else { throw RateLimitRuleError(entry: entry, reason: "expected a positive whole burst") }
                burst = value
            }
            return Route(method: method, path: String(route[1]), limit: .init(requestsPerSecond: rate, burst: burst))
        }
    }
}

/// A `RATE_LIMIT_ROUTES` entry that does not parse.
public struct RateLimitRuleError: Error, CustomStringConvertible {
    public var entry: String
    public var reason: String
    public var description: String { "\(entry): \(reason)" }
}

/// The `sub` a bearer JWT claims, read without verifying it.
enum BearerSubject {
    static func claimed(by authorization: String?) -> String? {
        guard let authorization, authorization.utf8.count <= 8192 else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let sections = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        guard sections.count == 3, let payload = TokenVerifier.base64URLDecoded(sections[1]),
            case .object(let claims)? = try? JSONValue.parse(payload), case .string(let subject)? = claims["sub"],
            !subject.isEmpty, subject.utf8.count <= 256
        else { return nil }
        return subject
    }
}

/// Token buckets by rule and client, at most `capacity` of them. When the table is full, the
/// buckets that have refilled are dropped first (a full bucket is what a new client gets, so
/// nothing is lost), then the tenth least recently used.
final class ClientBuckets: Sendable {
    struct Key: Hashable, Sendable {
        var rule: Int
        var client: String
    }

    /// A bucket after a request: what is left, the seconds until a token (when refused), and
    /// the seconds until it is full again.
    struct State {
        var remaining: Int
        var wait: Double?
        var reset: Int
    }

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
        var rate: Double
        var capacity: Double
    }

    let capacity: Int
    private let table = Mutex<[Key: Bucket]>([:])
    private let gauge: Gauge?

    init(capacity: Int, gauge: Gauge? = nil) {
        self.capacity = max(1, capacity)
        self.gauge = gauge
    }

    /// How many buckets are held.
    var count: Int { table.withLock { $0.count } }

    /// Takes a token from `key`'s bucket.
    func take(_ key: Key, limit: ServiceConfiguration.RateLimit, now: ContinuousClock.Instant) -> State {
        let (state, count) = table.withLock { table -> (State, Int) in
            var bucket = table[key].map { Self.refilled($0, now: now) }
                ?? Bucket(tokens: Double(limit.burst), updated: now, rate: limit.requestsPerSecond, capacity: Double(limit.burst))
            let state: State
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                state = State(remaining: Int(bucket.tokens), wait: nil, reset: Self.reset(bucket))
            } else {
                state = State(remaining: 0, wait: (1 - bucket.tokens) / bucket.rate, reset: Self.reset(bucket))
            }
            if table[key] == nil, table.count >= capacity { Self.evict(&table, now: now, capacity: capacity) }
            table[key] = bucket
            return (state, table.count)
        }
        gauge?.set(Int64(count))
        return state
    }

    /// The refusal `key`'s bucket would give now, without taking a token; nil when it has one.
    func peek(_ key: Key, limit: ServiceConfiguration.RateLimit, now: ContinuousClock.Instant) -> State? {
        table.withLock { table in
            guard let stored = table[key] else { return nil }
            let bucket = Self.refilled(stored, now: now)
            guard bucket.tokens < 1 else { return nil }
            return State(remaining: 0, wait: (1 - bucket.tokens) / bucket.rate, reset: Self.reset(bucket))
        }
    }

    private static func refilled(_ bucket: Bucket, now: ContinuousClock.Instant) -> Bucket {
        var bucket = bucket
        bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.updated).seconds * bucket.rate)
        bucket.updated = now
        return bucket
    }

    private static func reset(_ bucket: Bucket) -> Int {
        Int(((bucket.capacity - bucket.tokens) / bucket.rate).rounded(.up))
    }

    private static func evict(_ table: inout [Key: Bucket], now: ContinuousClock.Instant, capacity: Int) {
        table = table.filter { refilled($0.value, now: now).tokens < $0.value.capacity }
        guard table.count >= capacity else { return }
        let oldest = table.sorted { $0.value.updated < $1.value.updated }.prefix(max(1, capacity / 10))
        for (key, _) in oldest { table.removeValue(forKey: key) }
    }
}

extension HTTPField.Name {
    /// `RateLimit-Limit`: the bucket's size (draft-ietf-httpapi-ratelimit-headers).
    public static let rateLimitLimit = HTTPField.Name("RateLimit-Limit")!
    /// `RateLimit-Remaining`: the requests left in the bucket.
    public static let rateLimitRemaining = HTTPField.Name("RateLimit-Remaining")!
    /// `RateLimit-Reset`: the seconds until the bucket is full again.
    public static let rateLimitReset = HTTPField.Name("RateLimit-Reset")!
}
