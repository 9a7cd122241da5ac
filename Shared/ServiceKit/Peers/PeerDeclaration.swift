import Foundation

/// A peer a service calls, as its definition declares it: ServiceKit reads `<NAME>_URL` (the name
/// in upper case, `-` as `_`) for exactly the declared peers, and a required one gets a readiness
/// check. ServiceKit itself knows no service by name.
public struct PeerDeclaration: Sendable, Equatable {
    /// The peer's name, as in metrics (`peer="catalog"`), `degraded` lists and `Peer<Name>`.
    public var name: String
    /// Used when `<NAME>_URL` is unset (the local port, for `make run`); nil: the variable is
    /// needed, or the peer stays unconfigured when it is optional.
    public var defaultURL: String?
    /// Whether `/readyz` fails while the peer cannot be reached.
    public var required: Bool
    /// What the readiness check asks the peer (any HTTP answer shows it is reachable).
    public var readinessPath: String

    /// A peer called `name`.
    public init(_ name: String, defaultURL: String? = nil, required: Bool = false, readinessPath: String = "/docs") {
        self.name = name
        self.defaultURL = defaultURL
        self.required = required
        self.readinessPath = readinessPath
    }

    /// `CATALOG_URL` for `catalog`.
    public var variable: String {
        name.uppercased().replacingOccurrences(of: "-", with: "_") + "_URL"
    }
}

/// A peer named at the type level, so a route takes its client as `Depends<Peer<Catalog>>`:
///
/// ```swift
/// enum Catalog: PeerName { static let name = "catalog" }
/// ```
public protocol PeerName: Sendable {
    /// The declared peer's name.
    static var name: String { get }
}

/// The client of the declared peer `Name`; 503 when the service runs without its URL.
public struct Peer<Name: PeerName>: Dependency {
    /// The registered peers' client for `Name`.
    public static func resolve(in scope: RequestScope) async throws -> PeerClient {
        try scope.registered(Peers.self).peer(Name.name)
    }
}
