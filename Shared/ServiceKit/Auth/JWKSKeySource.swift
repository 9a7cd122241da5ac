import Foundation
import HTTPTypes
import JWTKit
import Logging
import Synchronization

/// The issuer's public keys, fetched from its JWKS through CurlHTTP and cached.
///
/// - A token naming a `kid` the cache lacks triggers one refetch (a key rotated in at users),
///   but at most one per `minimumRefetchInterval`: a flood of made-up kids costs users one request
///   per interval, not one per token. Concurrent misses share one fetch.
/// - Keys are refetched when older than the answer's `Cache-Control: max-age`
///   (`defaultMaxAge` without one), on the next token that needs them.
/// - When a fetch fails, the last good keys stay in use: users being down does not log anybody
///   out. Before any fetch has succeeded, tokens cannot be checked (`keysUnavailable`, 503).
public final class JWKSKeySource: VerificationKeys {
    /// The peer serving the JWKS.
    public let peer: PeerClient
    /// Its path there.
    public let path: String
    /// The least time between two fetches triggered by unknown kids.
    public let minimumRefetchInterval: Duration
    /// How long keys are used when the answer has no `max-age`.
    public let defaultMaxAge: Duration
    let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var collection: JWTKeyCollection?
        var kids: Set<String> = []
        var fetchedAt: ContinuousClock.Instant?
        var maxAge: Duration = .zero
        var lastAttempt: ContinuousClock.Instant?
        var fetching: Task<Void, Never>?
    }

    /// Keys served at `path` by `peer`.
    public init(
        peer: PeerClient, path: String = "/.well-known/jwks.json", minimumRefetchInterval: Duration = .seconds(10),
        defaultMaxAge: Duration = .seconds(300), logger: Logger
    ) {
        self.peer = peer
        self.path = path
        self.minimumRefetchInterval = minimumRefetchInterval
        self.defaultMaxAge = defaultMaxAge
        self.logger = logger
    }

    public func keys(for kid: String) async throws -> JWTKeyCollection? {
        let now = ContinuousClock.now
        enum Step { case use(JWTKeyCollection?), wait(Task<Void, Never>) }
        let step: Step = state.withLock { state in
            let fresh = state.fetchedAt.map { now - $0 < state.maxAge } ?? false
            if state.kids.contains(kid), fresh { return .use(state.collection) }
            if let fetching = state.fetching { return .wait(fetching) }
            let mayFetch = state.lastAttempt.map { now - $0 >= minimumRefetchInterval } ?? true
            // A known kid whose keys went stale is refetched too, but never more often than allowed.
            guard mayFetch else { return .use(state.kids.contains(kid) ? state.collection : nil) }
            state.lastAttempt = now
            let fetching = Task { await self.fetch() }
            state.fetching = fetching
            return .wait(fetching)
        }
        switch step {
        case .use(let collection):
            if collection == nil, state.withLock({ $0.collection == nil }) { throw TokenRejection.keysUnavailable }
            return collection
        case .wait(let fetching):
            await fetching.value
            return try state.withLock { state in
                guard let collection = state.collection else { throw TokenRejection.keysUnavailable }
                return state.kids.contains(kid) ? collection : nil
            }
        }
    }

    private func fetch() async {
        defer { state.withLock { $0.fetching = nil } }
        do {
            let response = try await peer.execute(peer.request(.get, path, headers: [.accept: "application/json"]))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else {
                throw TokenRejection.malformed("JWKS answered \(response.status.code)")
            }
            let jwks = try JSONDecoder().decode(JWKS.self, from: Data(body.readableBytesView))
            let collection = JWTKeyCollection()
            var kids: Set<String> = []
            for key in jwks.keys {
                guard let kid = key.keyIdentifier?.string else { continue }
                try await collection.add(jwk: key)
                kids.insert(kid)
            }
            let maxAge = Self.maxAge(response.headers[.cacheControl]) ?? defaultMaxAge
            state.withLock { state in
                state.collection = collection
                state.kids = kids
                state.fetchedAt = .now
                state.maxAge = maxAge
            }
            logger.debug("fetched the token keys", metadata: ["peer": .string(peer.name), "kids": .string(kids.sorted().joined(separator: ","))])
        } catch {
            logger.warning("could not fetch the token keys; the last good ones stay in use", metadata: [
                "peer": .string(peer.name), "error": .string(String(describing: error)),
            ])
        }
    }

    /// `max-age=N` of a `Cache-Control` value.
    static func maxAge(_ header: String?) -> Duration? {
        guard let header else { return nil }
        for directive in header.split(separator: ",") {
            let parts = directive.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "max-age", let seconds = Int(parts[1]), seconds >= 0 {
                return .seconds(seconds)
            }
        }
        return nil
    }
}
